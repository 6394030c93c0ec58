"""Functional builders, one module per family, and the registry of named variants."""

from keras_resnets.models.registry import ModelInfo, create_model, list_models, model_info
from keras_resnets.models.resnet import CifarResNet, PreActResNet, ResNet, ResNetV2
from keras_resnets.models.resnext import CifarResNeXt, ResNeXt
from keras_resnets.models.senet import SEResNet
from keras_resnets.models.wide_resnet import WideResNet, WideResNetImageNet

__all__ = [
    "CifarResNeXt",
    "CifarResNet",
    "ModelInfo",
    "PreActResNet",
    "ResNet",
    "ResNeXt",
    "ResNetV2",
    "SEResNet",
    "WideResNet",
    "WideResNetImageNet",
    "create_model",
    "list_models",
    "model_info",
]
