"""SE-ResNet (Hu et al. 2018): ResNets whose blocks end with squeeze-and-excitation."""

from keras_resnets.models.common import extends
from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import ResNet

HU2018 = "Hu et al. 2018, Squeeze-and-Excitation Networks (arXiv:1709.01507)"


@extends(ResNet)
def SEResNet(layers=(3, 4, 6, 3), block="bottleneck", *, attention="se", name="seresnet", **kwargs):
    """`ResNet` with SE after the last BN of every block (timm: reduction 1/16, rounded to 8 channels).
    `attention` may be a dict such as {"type": "se", "rd_ratio": 1/8}."""
    return ResNet(layers, block, attention=attention, name=name, **kwargs)


_SE = dict(family="seresnet", paper=HU2018, dataset="imagenet")  # parameter counts: timm
register_model("seresnet18", SEResNet, dict(block="basic", layers=(2, 2, 2, 2)), params=11779624, **_SE)
register_model("seresnet34", SEResNet, dict(block="basic", layers=(3, 4, 6, 3)), params=21960416, **_SE)
register_model("seresnet50", SEResNet, dict(block="bottleneck", layers=(3, 4, 6, 3)), params=28088024, **_SE)
register_model("seresnet101", SEResNet, dict(block="bottleneck", layers=(3, 4, 23, 3)), params=49326872, **_SE)
register_model("seresnet152", SEResNet, dict(block="bottleneck", layers=(3, 8, 36, 3)), params=66821848, **_SE)
