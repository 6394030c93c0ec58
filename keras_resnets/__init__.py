"""keras_resnets: the residual-network family as Keras layers and models, from paper to phone."""

import importlib

from keras_resnets import layers
from keras_resnets.analysis import count_macs, count_params
from keras_resnets.graph import flatten
from keras_resnets.image_transform import preprocess as preprocess_images
from keras_resnets.image_transform import preprocessing
from keras_resnets.labels import decode_predictions
from keras_resnets.models import (
    CifarResNeXt,
    CifarResNet,
    ModelInfo,
    PreActResNet,
    Res2Net,
    ResNet,
    ResNeXt,
    ResNetV2,
    ReXNet,
    SEResNet,
    WideResNet,
    WideResNetImageNet,
    create_model,
    list_models,
    model_info,
)
from keras_resnets.pretrained import PretrainedConfig, pretrained_config
from keras_resnets.weights import load_weights

__version__ = "0.1.0"


def __getattr__(name):
    # The input pipelines are tf.data: imported on first use, so the models need no TensorFlow under JAX or PyTorch.
    if name == "data":
        return importlib.import_module("keras_resnets.data")
    raise AttributeError(f"module 'keras_resnets' has no attribute {name!r}")


__all__ = [
    "CifarResNeXt",
    "CifarResNet",
    "ModelInfo",
    "PreActResNet",
    "PretrainedConfig",
    "Res2Net",
    "ResNet",
    "ResNeXt",
    "ResNetV2",
    "ReXNet",
    "SEResNet",
    "WideResNet",
    "WideResNetImageNet",
    "count_macs",
    "count_params",
    "create_model",
    "decode_predictions",
    "flatten",
    "layers",
    "list_models",
    "load_weights",
    "model_info",
    "preprocess_images",
    "preprocessing",
    "pretrained_config",
]
