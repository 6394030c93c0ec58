"""Functional builders, one module per family, and the registry of named variants."""

from keras_resnets.models.common import ApplicationArgs
from keras_resnets.models.registry import ModelInfo, create_model, list_models, model_info
from keras_resnets.models.res2net import Res2Net
from keras_resnets.models.resnet import CifarResNet, PreActResNet, ResNet, ResNetV2
from keras_resnets.models.resnext import CifarResNeXt, ResNeXt
from keras_resnets.models.rexnet import ReXNet
from keras_resnets.models.senet import SEResNet
from keras_resnets.models.wide_resnet import WideResNet, WideResNetImageNet

__all__ = [
    "ApplicationArgs",
    "CifarResNeXt",
    "CifarResNet",
    "ModelInfo",
    "PreActResNet",
    "Res2Net",
    "ResNet",
    "ResNeXt",
    "ResNetV2",
    "ReXNet",
    "SEResNet",
    "WideResNet",
    "WideResNetImageNet",
    "create_model",
    "list_models",
    "model_info",
]
