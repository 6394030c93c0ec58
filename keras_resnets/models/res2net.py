"""Res2Net and Res2NeXt (Gao et al. 2019): ResNets whose bottlenecks split the 3x3 conv into `scale` groups."""

from keras_resnets.layers.res2net import Res2NetBottleneck
from keras_resnets.models.common import extends
from keras_resnets.models.registry import register_model
from keras_resnets.models.resnet import ResNet

GAO2019 = "Gao et al. 2019, Res2Net: A New Multi-scale Backbone Architecture (arXiv:1904.01169)"


@extends(ResNet, fixes=("block", "block_kwargs", "stride_in"))
def Res2Net(layers=(3, 4, 6, 3), *, scale=4, base_width=26, name="res2net", **kwargs):
    """ImageNet Res2Net: `ResNet` with `Res2NetBottleneck` blocks of `scale` groups of
    `int(filters * base_width / 64) * cardinality` channels (res2net50_26w_4s: base_width=26, scale=4).
    `cardinality` > 1 is Res2NeXt, `attention="se"` SE-Res2Net, `stem="deep", shortcut="D"` Res2Net-D.
    Other arguments as `ResNet`; timm `.safetensors` weights load through `weights=`."""
    return ResNet(
        layers, Res2NetBottleneck, base_width=base_width, block_kwargs=dict(scale=scale), name=name, **kwargs
    )


# Parameter counts: timm; MACs: the paper's.
_RES2NET = dict(family="res2net", paper=GAO2019, dataset="imagenet")
register_model("res2net50_26w_4s", Res2Net, dict(layers=(3, 4, 6, 3), base_width=26, scale=4),
               params=25699120, macs=4.2e9, **_RES2NET)
register_model("res2net50_26w_6s", Res2Net, dict(layers=(3, 4, 6, 3), base_width=26, scale=6),
               params=37051448, macs=6.3e9, **_RES2NET)
register_model("res2net50_26w_8s", Res2Net, dict(layers=(3, 4, 6, 3), base_width=26, scale=8),
               params=48403776, macs=8.3e9, **_RES2NET)
register_model("res2net50_48w_2s", Res2Net, dict(layers=(3, 4, 6, 3), base_width=48, scale=2),
               params=25287304, macs=4.2e9, **_RES2NET)
register_model("res2net50_14w_8s", Res2Net, dict(layers=(3, 4, 6, 3), base_width=14, scale=8),
               params=25059816, macs=4.2e9, **_RES2NET)
register_model("res2net101_26w_4s", Res2Net, dict(layers=(3, 4, 23, 3), base_width=26, scale=4),
               params=45206688, macs=8.1e9, **_RES2NET)
register_model("res2next50", Res2Net, dict(layers=(3, 4, 6, 3), base_width=4, scale=4, cardinality=8),
               params=24671464, macs=4.2e9, **_RES2NET)
register_model("res2net50d", Res2Net, dict(layers=(3, 4, 6, 3), base_width=26, scale=4, stem="deep", shortcut="D"),
               params=25718352, **_RES2NET)
# timm has no seres2net50. Its count, by hand in timm's convention: res2net50_26w_4s (25,699,120) plus one SE
# per block on its 4 * filters output channels C, reduced to C / 16 (timm's SEModule, rounded to 8):
# 2 * C * C/16 + C/16 + C for C = 256 (x3), 512 (x4), 1024 (x6), 2048 (x3) = 2,530,992, so 28,230,112, the
# same as keras_resnets.count_params(create_model("seres2net50")).
register_model("seres2net50", Res2Net, dict(layers=(3, 4, 6, 3), base_width=26, scale=4, attention="se"),
               params=28230112, **_RES2NET)
