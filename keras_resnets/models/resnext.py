"""ResNeXt (Xie et al. 2017): bottlenecks with grouped 3x3 convs, for ImageNet and CIFAR."""

from keras_resnets.models.common import extends
from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import CifarResNet, ResNet

XIE2017 = "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks (arXiv:1611.05431)"


@extends(ResNet, fixes=("block",))
def ResNeXt(layers=(3, 4, 6, 3), *, cardinality=32, base_width=4, name="resnext", **kwargs):
    """ImageNet ResNeXt: `cardinality` groups of `base_width` channels (the paper's bottleneck width d) in the
    first stage's 3x3 conv, doubling per stage (ResNeXt-50 32x4d: 128, 256, 512, 1024). Other arguments as
    `ResNet`."""
    return ResNet(layers, "bottleneck", cardinality=cardinality, base_width=base_width, name=name, **kwargs)


@extends(CifarResNet, fixes=("block", "widths", "stem_chs", "shortcut"))
def CifarResNeXt(depth=29, *, cardinality=8, base_width=64, name="cifar_resnext", **kwargs):
    """CIFAR ResNeXt-29 (Xie et al. 2017, Sec. 5.3): 64-channel 3x3 stem, 3 stages of (depth - 2) / 9
    bottlenecks with outputs 256/512/1024 and group width cardinality x base_width, doubling per stage."""
    return CifarResNet(
        depth, "bottleneck", widths=(64, 128, 256), stem_chs=64, shortcut="B", cardinality=cardinality,
        base_width=base_width, name=name, **kwargs,
    )


# Parameter counts: timm (ImageNet) or the paper's nets (CIFAR, 10 classes); MACs: the paper's.
_IMAGENET = dict(family="resnext", paper=XIE2017, dataset="imagenet")
register_model("resnext50_32x4d", ResNeXt, dict(layers=(3, 4, 6, 3), cardinality=32, base_width=4),
               params=25028904, macs=4.2e9, **_IMAGENET)
register_model("resnext101_32x4d", ResNeXt, dict(layers=(3, 4, 23, 3), cardinality=32, base_width=4),
               params=44177704, macs=7.8e9, **_IMAGENET)
register_model("resnext101_32x8d", ResNeXt, dict(layers=(3, 4, 23, 3), cardinality=32, base_width=8),
               params=88791336, **_IMAGENET)
register_model("resnext101_64x4d", ResNeXt, dict(layers=(3, 4, 23, 3), cardinality=64, base_width=4),
               params=83455272, macs=15.6e9, **_IMAGENET)
register_model("resnext50d_32x4d", ResNeXt,
               dict(layers=(3, 4, 6, 3), cardinality=32, base_width=4, stem="deep", shortcut="D"),
               params=25048136, **_IMAGENET)

_SE = dict(family="seresnext", paper=XIE2017, dataset="imagenet")
register_model("seresnext50_32x4d", ResNeXt, dict(layers=(3, 4, 6, 3), cardinality=32, base_width=4, attention="se"),
               params=27559896, **_SE)
register_model("seresnext101_32x4d", ResNeXt,
               dict(layers=(3, 4, 23, 3), cardinality=32, base_width=4, attention="se"), params=48955416, **_SE)

_CIFAR = dict(family="cifar_resnext", paper=XIE2017, dataset="cifar")
register_model("resnext29_8x64d", CifarResNeXt, dict(depth=29, cardinality=8, base_width=64), params=34426698,
               **_CIFAR)
register_model("resnext29_16x64d", CifarResNeXt, dict(depth=29, cardinality=16, base_width=64), params=68155210,
               **_CIFAR)
