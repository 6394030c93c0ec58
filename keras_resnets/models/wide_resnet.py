"""Wide Residual Networks (Zagoruyko & Komodakis 2016), for CIFAR and ImageNet."""

from keras_resnets.checks import check_positive_int, check_rate, is_int
from keras_resnets.models.common import extends
from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import CifarResNet, ResNet

ZAGORUYKO2016 = "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv:1605.07146)"


@extends(CifarResNet, fixes=("block", "widths", "placement", "shortcut"))
def WideResNet(depth=28, widen_factor=10, dropout_rate=0.0, *, name="wide_resnet", **kwargs):
    """CIFAR WRN-depth-k, k the `widen_factor`: full pre-activation basic blocks with dropout between the
    convs, (depth - 4) / 6 blocks per stage, widths 16k/32k/64k, 1x1 projection shortcuts where the shape
    changes. Other arguments as `CifarResNet`."""
    if not is_int(depth) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"Wide ResNet depth must be 6n+4 for n >= 1 (e.g. 10, 16, 28, 40), got {depth!r}.")
    check_positive_int("widen_factor", widen_factor)
    check_rate("dropout_rate", dropout_rate)
    # The paper's depth counts the two projection convs; the equivalent 6n+2 net has the same blocks.
    return CifarResNet(
        depth - 2, "basic", widths=(16 * widen_factor, 32 * widen_factor, 64 * widen_factor), placement="e",
        shortcut="B", dropout_rate=dropout_rate, name=name, **kwargs,
    )


@extends(ResNet, fixes=("block", "base_width"))
def WideResNetImageNet(layers=(3, 4, 6, 3), *, widen_factor=2, name="wide_resnet", **kwargs):
    """ImageNet wide ResNet (torchvision/timm wide_resnet50_2): bottlenecks `widen_factor` times wider inside."""
    check_positive_int("widen_factor", widen_factor)
    return ResNet(layers, "bottleneck", base_width=64 * widen_factor, name=name, **kwargs)


_CIFAR = dict(family="wide_resnet", paper=ZAGORUYKO2016, dataset="cifar")  # the paper's nets, 10 classes
register_model("wrn_16_8", WideResNet, dict(depth=16, widen_factor=8), params=10961370, **_CIFAR)
register_model("wrn_28_10", WideResNet, dict(depth=28, widen_factor=10, dropout_rate=0.3), params=36479194, **_CIFAR)
register_model("wrn_40_4", WideResNet, dict(depth=40, widen_factor=4), params=8949210, **_CIFAR)

_IMAGENET = dict(family="wide_resnet", paper=ZAGORUYKO2016, dataset="imagenet")  # parameter counts: timm
register_model("wide_resnet50_2", WideResNetImageNet, dict(layers=(3, 4, 6, 3), widen_factor=2), params=68883240,
               **_IMAGENET)
register_model("wide_resnet101_2", WideResNetImageNet, dict(layers=(3, 4, 23, 3), widen_factor=2), params=126886696,
               **_IMAGENET)
