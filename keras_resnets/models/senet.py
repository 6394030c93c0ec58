"""SE-ResNet (Hu et al. 2018): ResNets whose blocks end with squeeze-and-excitation."""

from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import ResNet

HU2018 = "Hu et al. 2018, Squeeze-and-Excitation Networks (arXiv:1709.01507)"


def SEResNet(layers=(3, 4, 6, 3), block="bottleneck", *, attention="se", name="seresnet", **kwargs):
    """`ResNet` with SE after the last BN of every block (timm: reduction 1/16, rounded to 8 channels).
    `attention` may be a dict such as {"type": "se", "rd_ratio": 1/8}."""
    return ResNet(layers, block, attention=attention, name=name, **kwargs)


_MODELS = {
    "seresnet18": ("basic", (2, 2, 2, 2), 11779624),
    "seresnet34": ("basic", (3, 4, 6, 3), 21960416),
    "seresnet50": ("bottleneck", (3, 4, 6, 3), 28088024),
    "seresnet101": ("bottleneck", (3, 4, 23, 3), 49326872),
    "seresnet152": ("bottleneck", (3, 8, 36, 3), 66821848),
}
for _name, (_block, _layers, _params) in _MODELS.items():
    register_model(
        _name, SEResNet, dict(block=_block, layers=_layers), family="seresnet", paper=HU2018, dataset="imagenet",
        params=_params,
    )
