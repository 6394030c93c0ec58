"""ReXNet (Han et al. 2021, "Rethinking Channel Dimensions for Efficient Model Design"), as the official clovaai
code and timm build it, and its named widths rexnet_100 ... rexnet_300.

A 3x3/2 stem, 16 linear bottlenecks (at depth 1.0) whose output channels grow linearly from `initial_chs` by
`final_chs / blocks` per block, a 1x1 conv to 1280 x width, and the keras.applications head.
"""

import math
import re

from keras_resnets.backend import keras
from keras_resnets.checks import check_positive_int, check_range, check_rate
from keras_resnets.layers.attention import make_divisible
from keras_resnets.layers.base import apply_sequence
from keras_resnets.layers.rexnet import LinearBottleneck, conv_bn_act
from keras_resnets.models.common import application_builder
from keras_resnets.models.registry import register_model

# The six stages of the official code: blocks and stride of each at depth 1.0.
STAGE_BLOCKS = (1, 2, 2, 3, 3, 5)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)


def _check_activation(name):
    try:
        known = isinstance(name, str) and keras.activations.get(name) is not None
    except ValueError:
        known = False
    if not known:
        raise ValueError(f"activation must be a Keras activation name such as 'silu' or 'relu6', got {name!r}.")
    return name


def rexnet_blocks(width_mult, depth_mult, initial_chs, final_chs, se_ratio, ch_div):
    """[(stage, index in stage, filters, expansion, strides, se_ratio)] per block, as timm's `_block_cfg`.

    The float arithmetic is the official code's on purpose: Python's `round` (half to even, 38.5 -> 38) on
    a base that grows by `final_chs / blocks`; below width 1.0 the base starts at `initial_chs / width`, so
    the first block keeps `initial_chs` channels.
    """
    counts = [math.ceil(count * depth_mult) for count in STAGE_BLOCKS]
    num_blocks = sum(counts)
    base = initial_chs / width_mult if width_mult < 1.0 else initial_chs
    blocks = []
    for stage, (count, stride) in enumerate(zip(counts, STAGE_STRIDES), start=1):
        for index in range(1, count + 1):
            filters = make_divisible(round(base * width_mult), ch_div)
            base += final_chs / (num_blocks * 1.0)
            expansion = 1 if stage == 1 else 6
            strides = stride if index == 1 else 1
            blocks.append((stage, index, filters, expansion, strides, se_ratio if stage > 2 else 0.0))  # no SE in 1-2
    return blocks


@application_builder(head_dropout_rate=0.2, name="rexnet")
def ReXNet(
    width_mult=1.0,
    depth_mult=1.0,
    se_ratio=1 / 12,
    ch_div=1,
    activation="silu",
    initial_chs=16,
    final_chs=180,
    *,
    drop_path_rate=0.0,
    app,
):
    """ReXNet-`width_mult` (timm `RexNet`; `ch_div=8` gives timm's rounded `rexnetr_*` variants).

    `activation` is the nonlinearity of the stem, the expansion convs and the head (timm's `act_layer`; the
    depthwise convs keep ReLU6). `weights` takes a Keras weights file or a timm `.safetensors` state dict.
    `features_only=True` returns a backbone whose outputs are the stride-tagged features `STEM_S2`,
    `STAGE1_S2` ... `STAGE6_S32` (the end of each of the six stages, before the final 1x1 conv). The
    keras.applications arguments are described in `ApplicationArgs` (here `head_dropout_rate` is 0.2).
    """
    _check_activation(activation)
    check_range("width_mult", width_mult, "(0, inf)")
    check_range("depth_mult", depth_mult, "(0, inf)")
    check_range("se_ratio", se_ratio, "[0, 1]")  # 0: no SE
    check_positive_int("ch_div", ch_div)
    check_range("initial_chs", initial_chs, "[1, inf)")
    check_range("final_chs", final_chs, "[0, inf)")
    check_rate("drop_path_rate", drop_path_rate)
    x, source_inputs = app.inputs(default_size=224, min_size=32)

    # The stem keeps 32 channels below width 1.0, like the first block.
    stem_base = 32 / width_mult if width_mult < 1.0 else 32
    in_chs = make_divisible(round(stem_base * width_mult), ch_div)
    x = apply_sequence(conv_bn_act(in_chs, 3, "stem", 2, activation), x)
    stride = 2
    features = {"STEM_S2": x}
    blocks = rexnet_blocks(width_mult, depth_mult, initial_chs, final_chs, se_ratio, ch_div)
    for block_index, (stage, index, filters, expansion, strides, ratio) in enumerate(blocks):
        # As timm: stochastic depth only where the block has its (partial) residual.
        has_shortcut = strides == 1 and in_chs <= filters
        x = LinearBottleneck(
            filters,
            strides=strides,
            expansion=expansion,
            se_ratio=ratio,
            ch_div=ch_div,
            activation=activation,
            drop_path_rate=drop_path_rate * block_index / max(len(blocks) - 1, 1) if has_shortcut else 0.0,
            name=f"stage{stage}_block{index}",
        )(x)
        in_chs = filters
        stride *= strides
        features[f"STAGE{stage}_S{stride}"] = x  # the last block of the stage wins
    head = lambda: apply_sequence(  # noqa: E731
        conv_bn_act(make_divisible(1280 * width_mult, ch_div), 1, "head", act=activation), x
    )
    return app.model(source_inputs, features, head, timm_rexnet_mapping(blocks))


# ----------------------------------------------------------------------------------------------- timm names

_BLOCK_LAYER = re.compile(r"(stage\d+_block\d+)_(exp|dw|pwl|se)_(conv|bn|fc1|fc2)")
_TIMM_PARTS = {"exp": "conv_exp", "dw": "conv_dw", "pwl": "conv_pwl", "se": "se"}


def timm_rexnet_mapping(blocks):
    """Layer name -> timm.models.rexnet.RexNet module prefix; timm numbers the blocks and the head conv
    together as `features.0` ... `features.{len(blocks)}`."""
    position = {f"stage{stage}_block{index}": i for i, (stage, index, *_) in enumerate(blocks)}
    fixed = {
        "stem_conv": "stem.conv",
        "stem_bn": "stem.bn",
        "head_conv": f"features.{len(blocks)}.conv",
        "head_bn": f"features.{len(blocks)}.bn",
        "predictions": "head.fc",
    }

    def mapping(layer_name):
        if layer_name in fixed:
            return fixed[layer_name]
        match = _BLOCK_LAYER.fullmatch(layer_name)
        if not match or match.group(1) not in position:
            return None
        block, part, kind = match.groups()
        return f"features.{position[block]}.{_TIMM_PARTS[part]}.{kind}"

    return mapping


# ------------------------------------------------------------------------------------------------- registry

HAN2021 = "Han et al. 2021, Rethinking Channel Dimensions for Efficient Model Design (ReXNet, arXiv:2007.00992)"

_REXNET = dict(family="rexnet", paper=HAN2021, dataset="imagenet")  # parameters: timm; MACs: the paper's
register_model("rexnet_100", ReXNet, dict(width_mult=1.0), params=4796873, macs=0.40e9, **_REXNET)
register_model("rexnet_130", ReXNet, dict(width_mult=1.3), params=7557091, macs=0.66e9, **_REXNET)
register_model("rexnet_150", ReXNet, dict(width_mult=1.5), params=9728593, macs=0.88e9, **_REXNET)
register_model("rexnet_200", ReXNet, dict(width_mult=2.0), params=16366620, macs=1.5e9, **_REXNET)
register_model("rexnet_300", ReXNet, dict(width_mult=3.0), params=34708792, **_REXNET)
