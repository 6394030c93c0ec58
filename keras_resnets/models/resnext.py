"""ResNeXt (Xie et al. 2017): bottlenecks with grouped 3x3 convs, for ImageNet and CIFAR."""

from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import CifarResNet, ResNet

XIE2017 = "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks (arXiv:1611.05431)"


def _validate_cardinality(cardinality, bottleneck_width):
    if not isinstance(cardinality, int) or cardinality < 1:
        raise ValueError(f"ResNeXt cardinality must be an integer >= 1, got {cardinality!r}.")
    if not isinstance(bottleneck_width, int) or bottleneck_width < 1:
        raise ValueError(f"ResNeXt bottleneck_width must be an integer >= 1, got {bottleneck_width!r}.")


def ResNeXt(layers=(3, 4, 6, 3), *, cardinality=32, bottleneck_width=4, name="resnext", **kwargs):
    """ImageNet ResNeXt: `cardinality` groups of `bottleneck_width` channels in the first stage's 3x3 conv,
    doubling per stage (ResNeXt-50 32x4d: 128, 256, 512, 1024). Other arguments as `ResNet`."""
    _validate_cardinality(cardinality, bottleneck_width)
    return ResNet(layers, "bottleneck", groups=cardinality, base_width=bottleneck_width, name=name, **kwargs)


def CifarResNeXt(depth=29, *, cardinality=8, bottleneck_width=64, name="cifar_resnext", **kwargs):
    """CIFAR ResNeXt-29 (Xie et al. 2017, Sec. 5.3): 64-channel 3x3 stem, 3 stages of (depth - 2) / 9
    bottlenecks with outputs 256/512/1024 and group width cardinality x bottleneck_width, doubling per stage."""
    _validate_cardinality(cardinality, bottleneck_width)
    return CifarResNet(
        depth, "bottleneck", widths=(64, 128, 256), stem_width=64, shortcut="B", groups=cardinality,
        base_width=bottleneck_width, name=name, **kwargs,
    )


_IMAGENET = {
    # name: (layers, cardinality, bottleneck width, ResNet-D, attention, params (timm), paper MACs)
    "resnext50_32x4d": ((3, 4, 6, 3), 32, 4, False, None, 25028904, 4.2e9),
    "resnext101_32x4d": ((3, 4, 23, 3), 32, 4, False, None, 44177704, 7.8e9),
    "resnext101_32x8d": ((3, 4, 23, 3), 32, 8, False, None, 88791336, None),
    "resnext101_64x4d": ((3, 4, 23, 3), 64, 4, False, None, 83455272, 15.6e9),
    "resnext50d_32x4d": ((3, 4, 6, 3), 32, 4, True, None, 25048136, None),
    "seresnext50_32x4d": ((3, 4, 6, 3), 32, 4, False, "se", 27559896, None),
    "seresnext101_32x4d": ((3, 4, 23, 3), 32, 4, False, "se", 48955416, None),
}
for _name, (_layers, _cardinality, _width, _resnet_d, _attention, _params, _macs) in _IMAGENET.items():
    _kwargs = dict(layers=_layers, cardinality=_cardinality, bottleneck_width=_width, attention=_attention)
    if _resnet_d:
        _kwargs.update(stem="deep", shortcut="D")
    register_model(
        _name, ResNeXt, _kwargs, family="seresnext" if _attention else "resnext", paper=XIE2017,
        dataset="imagenet", params=_params, macs=_macs,
    )

for _cardinality, _params in ((8, 34426698), (16, 68155210)):
    register_model(
        f"resnext29_{_cardinality}x64d", CifarResNeXt, dict(depth=29, cardinality=_cardinality),
        family="cifar_resnext", paper=XIE2017, dataset="cifar", params=_params,
    )
