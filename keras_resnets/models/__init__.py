"""Functional builders, one module per family, and the registry of named variants."""

from keras_resnets.models.registry import ModelInfo, create_model, list_models, model_info
from keras_resnets.models.resnet import CifarResNet, PreActResNet, ResNet, ResNetV2

__all__ = [
    "CifarResNet",
    "ModelInfo",
    "PreActResNet",
    "ResNet",
    "ResNetV2",
    "create_model",
    "list_models",
    "model_info",
]
