"""Wide Residual Networks (Zagoruyko & Komodakis 2016), for CIFAR and ImageNet."""

from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import CifarResNet, ResNet

ZAGORUYKO2016 = "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv:1605.07146)"


def WideResNet(depth=28, width=10, dropout_rate=0.0, *, name="wide_resnet", **kwargs):
    """CIFAR WRN-depth-width: full pre-activation basic blocks with dropout between the convs,
    (depth - 4) / 6 blocks per stage, widths 16k/32k/64k, 1x1 projection shortcuts where the shape changes.
    Other arguments as `CifarResNet`."""
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"Wide ResNet depth must be 6n+4 for n >= 1 (e.g. 10, 16, 28, 40), got {depth!r}.")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"Wide ResNet width (widening factor k) must be an integer >= 1, got {width!r}.")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"Wide ResNet dropout_rate must be in [0, 1), got {dropout_rate!r}.")
    # The paper's depth counts the two projection convs; the equivalent 6n+2 net has the same blocks.
    return CifarResNet(
        depth - 2, "basic", widths=(16 * width, 32 * width, 64 * width), placement="e", shortcut="B",
        dropout_rate=dropout_rate, name=name, **kwargs,
    )


def WideResNetImageNet(layers=(3, 4, 6, 3), *, width_factor=2, name="wide_resnet", **kwargs):
    """ImageNet wide ResNet (torchvision/timm wide_resnet50_2): bottlenecks `width_factor` times wider inside."""
    if not isinstance(width_factor, int) or width_factor < 1:
        raise ValueError(f"width_factor must be an integer >= 1, got {width_factor!r}.")
    return ResNet(layers, "bottleneck", base_width=64 * width_factor, name=name, **kwargs)


_CIFAR = {"wrn_16_8": (16, 8, 10961370), "wrn_28_10": (28, 10, 36479194), "wrn_40_4": (40, 4, 8949210)}
for _name, (_depth, _width, _params) in _CIFAR.items():
    register_model(
        _name, WideResNet, dict(depth=_depth, width=_width, dropout_rate=0.3 if _name == "wrn_28_10" else 0.0),
        family="wide_resnet", paper=ZAGORUYKO2016, dataset="cifar", params=_params,
    )
for _name, _layers, _params in (("wide_resnet50_2", (3, 4, 6, 3), 68883240), ("wide_resnet101_2", (3, 4, 23, 3), 126886696)):
    register_model(
        _name, WideResNetImageNet, dict(layers=_layers), family="wide_resnet", paper=ZAGORUYKO2016,
        dataset="imagenet", params=_params,
    )
