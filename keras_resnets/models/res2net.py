"""Res2Net and Res2NeXt (Gao et al. 2019): ResNets whose bottlenecks split the 3x3 conv into `scale` groups."""

from keras_resnets.layers.res2net import Res2NetBottleneck
from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import ResNet

GAO2019 = "Gao et al. 2019, Res2Net: A New Multi-scale Backbone Architecture (arXiv:1904.01169)"


def Res2Net(layers=(3, 4, 6, 3), *, scale=4, base_width=26, name="res2net", **kwargs):
    """ImageNet Res2Net: `ResNet` with `Res2NetBottleneck` blocks of `scale` groups of
    `int(filters * base_width / 64) * groups` channels (res2net50_26w_4s: base_width=26, scale=4).
    `groups` > 1 is Res2NeXt, `attention="se"` SE-Res2Net, `stem="deep", shortcut="D"` Res2Net-D.
    Other arguments as `ResNet`; timm `.safetensors` weights load through `weights=`."""
    return ResNet(
        layers, Res2NetBottleneck, base_width=base_width, block_kwargs=dict(scale=scale), name=name, **kwargs
    )


_MODELS = {
    # name: (layers, base width, scale, cardinality, extra arguments, params (timm), paper MACs)
    "res2net50_26w_4s": ((3, 4, 6, 3), 26, 4, 1, {}, 25699120, 4.2e9),
    "res2net50_26w_6s": ((3, 4, 6, 3), 26, 6, 1, {}, 37051448, 6.3e9),
    "res2net50_26w_8s": ((3, 4, 6, 3), 26, 8, 1, {}, 48403776, 8.3e9),
    "res2net50_48w_2s": ((3, 4, 6, 3), 48, 2, 1, {}, 25287304, 4.2e9),
    "res2net50_14w_8s": ((3, 4, 6, 3), 14, 8, 1, {}, 25059816, 4.2e9),
    "res2net101_26w_4s": ((3, 4, 23, 3), 26, 4, 1, {}, 45206688, 8.1e9),
    "res2next50": ((3, 4, 6, 3), 4, 4, 8, {}, 24671464, 4.2e9),
    "res2net50d": ((3, 4, 6, 3), 26, 4, 1, dict(stem="deep", shortcut="D"), 25718352, None),
    "seres2net50": ((3, 4, 6, 3), 26, 4, 1, dict(attention="se"), None, None),
}
for _name, (_layers, _base_width, _scale, _groups, _extra, _params, _macs) in _MODELS.items():
    register_model(
        _name, Res2Net, dict(layers=_layers, base_width=_base_width, scale=_scale, groups=_groups, **_extra),
        family="res2net", paper=GAO2019, dataset="imagenet", params=_params, macs=_macs,
    )
