"""ReXNet (Han et al. 2021, "Rethinking Channel Dimensions for Efficient Model Design"), as the official clovaai
code and timm build it, and its named widths rexnet_100 ... rexnet_300.

A 3x3/2 stem, 16 linear bottlenecks (at depth 1.0) whose output channels grow linearly from `initial_chs` by
`final_chs / blocks` per block, a 1x1 conv to 1280 x width, and the keras.applications head.
"""

import math
import re

from keras_resnets.backend import keras
from keras_resnets.checks import is_number
from keras_resnets.layers.attention import make_divisible
from keras_resnets.layers.base import apply_sequence
from keras_resnets.layers.rexnet import LinearBottleneck, conv_bn_act
from keras_resnets.models.common import (
    classification_head,
    finish_model,
    model_inputs,
    validate_head_arguments,
)
from keras_resnets.models.registry import register_model

# The six stages of the official code: blocks and stride of each at depth 1.0.
STAGE_BLOCKS = (1, 2, 2, 3, 3, 5)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)


def _is_activation(name):
    try:
        keras.activations.get(name)
    except ValueError:
        return False
    return isinstance(name, str)


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


def _validate(width_mult, depth_mult, se_ratio, ch_div, initial_chs, final_chs, head_dropout_rate, drop_path_rate,
              activation):
    checks = [
        (_is_activation(activation), f"activation must be a Keras activation name such as 'silu' or 'relu6', "
                                     f"got {activation!r}."),
        (is_number(width_mult) and width_mult > 0, f"width_mult must be a number > 0, got {width_mult!r}."),
        (is_number(depth_mult) and depth_mult > 0, f"depth_mult must be a number > 0, got {depth_mult!r}."),
        (is_number(se_ratio) and 0 <= se_ratio <= 1, f"se_ratio must be in [0, 1] (0: no SE), got {se_ratio!r}."),
        (isinstance(ch_div, int) and ch_div >= 1, f"ch_div must be an integer >= 1, got {ch_div!r}."),
        (is_number(initial_chs) and initial_chs >= 1, f"initial_chs must be a number >= 1, got {initial_chs!r}."),
        (is_number(final_chs) and final_chs >= 0, f"final_chs must be a number >= 0, got {final_chs!r}."),
        (
            is_number(head_dropout_rate) and 0 <= head_dropout_rate < 1,
            f"head_dropout_rate must be in [0, 1), got {head_dropout_rate!r}.",
        ),
        (
            is_number(drop_path_rate) and 0 <= drop_path_rate < 1,
            f"drop_path_rate must be in [0, 1), got {drop_path_rate!r}.",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def ReXNet(
    width_mult=1.0,
    depth_mult=1.0,
    se_ratio=1 / 12,
    ch_div=1,
    activation="silu",
    initial_chs=16,
    final_chs=180,
    head_dropout_rate=0.2,
    drop_path_rate=0.0,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    features_only=False,
    name="rexnet",
):
    """ReXNet-`width_mult` (timm `RexNet`; `ch_div=8` gives timm's rounded `rexnetr_*` variants).

    `activation` is the nonlinearity of the stem, the expansion convs and the head (timm's `act_layer`; the
    depthwise convs keep ReLU6). `weights` takes a Keras weights file or a timm `.safetensors` state dict.
    `features_only=True` returns a backbone whose outputs are the stride-tagged features `STEM_S2`,
    `STAGE1_S2` ... `STAGE6_S32` (the end of each of the six stages, before the final 1x1 conv).
    """
    _validate(width_mult, depth_mult, se_ratio, ch_div, initial_chs, final_chs, head_dropout_rate, drop_path_rate,
              activation)
    validate_head_arguments(include_top and not features_only, pooling, classes, name)
    x, source_inputs = model_inputs(input_tensor, input_shape, 224, 32, include_top, name)

    # The stem keeps 32 channels below width 1.0, like the first block.
    stem_base = 32 / width_mult if width_mult < 1.0 else 32
    x = apply_sequence(conv_bn_act(make_divisible(round(stem_base * width_mult), ch_div), 3, "stem", 2, activation), x)
    stride = 2
    features = {"STEM_S2": x}
    blocks = rexnet_blocks(width_mult, depth_mult, initial_chs, final_chs, se_ratio, ch_div)
    for block_index, (stage, index, filters, expansion, strides, ratio) in enumerate(blocks):
        x = LinearBottleneck(
            filters,
            strides=strides,
            expansion=expansion,
            se_ratio=ratio,
            ch_div=ch_div,
            activation=activation,
            drop_path_rate=drop_path_rate * block_index / max(len(blocks) - 1, 1),
            name=f"stage{stage}_block{index}",
        )(x)
        stride *= strides
        features[f"STAGE{stage}_S{stride}"] = x  # the last block of the stage wins
    mapping = timm_rexnet_mapping(blocks)
    if features_only:
        return finish_model(source_inputs, features, name, weights, mapping)
    x = apply_sequence(conv_bn_act(make_divisible(1280 * width_mult, ch_div), 1, "head", act=activation), x)
    outputs = classification_head(x, include_top, pooling, classes, classifier_activation, head_dropout_rate)
    return finish_model(source_inputs, outputs, name, weights, mapping)


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

_REXNETS = {
    # name: (width_mult, params (timm), paper MACs)
    "rexnet_100": (1.0, 4796873, 0.40e9),
    "rexnet_130": (1.3, 7557091, 0.66e9),
    "rexnet_150": (1.5, 9728593, 0.88e9),
    "rexnet_200": (2.0, 16366620, 1.5e9),
    "rexnet_300": (3.0, 34708792, None),
}
for _name, (_width, _params, _macs) in _REXNETS.items():
    register_model(
        _name, ReXNet, dict(width_mult=_width), family="rexnet", paper=HAN2021, dataset="imagenet",
        params=_params, macs=_macs,
    )
