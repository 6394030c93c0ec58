"""ResNet v1 and v2 (pre-activation) builders for ImageNet and CIFAR, and their named variants.

One generic network: a stem, stages of residual blocks, an optional final BN-ReLU (pre-activation nets),
and the keras.applications head. Variants are short registered configurations, as in timm.
Every builder also takes the keras.applications arguments as keywords: see `ApplicationArgs`.
"""

import re

from keras_resnets.checks import check_positive_int, is_int
from keras_resnets.layers.base import apply_sequence
from keras_resnets.layers.residual import (
    PLACEMENT_TABLE,
    BasicBlock,
    Bottleneck,
    ResidualBlock,
    check_drop_path,
    norm_or_activation,
    validate_placement,
)
from keras_resnets.layers.shortcut import validate_shortcut
from keras_resnets.layers.stems import Stem, stem_max_pool
from keras_resnets.models.common import application_builder, extends
from keras_resnets.models.registry import register_model

BLOCK_TYPES = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _block_class(block):
    """A block name, or any `ResidualBlock` subclass (e.g. `Res2NetBottleneck`), as its class."""
    if isinstance(block, type) and issubclass(block, ResidualBlock):
        return block
    if block not in BLOCK_TYPES:
        raise ValueError(f"Unknown block type {block!r}; allowed: {sorted(BLOCK_TYPES)}.")
    return BLOCK_TYPES[block]


def _validate_layers(layers, widths):
    layers = tuple(layers)
    if len(layers) != len(widths) or not all(is_int(count) and count >= 1 for count in layers):
        raise ValueError(
            f"layers must give a positive block count for each of the {len(widths)} stages {tuple(widths)}, "
            f"got {layers}."
        )
    return layers


def residual_network(*, layers, block, widths, stem, stem_chs, placement, shortcut, block_kwargs, drop_path_rate, app,
                     timm_mapping=None):
    """The generic residual network every ResNet builder configures; `app` holds the keras.applications part."""
    block_cls = _block_class(block)
    layers = _validate_layers(layers, widths)
    check_positive_int("cardinality", block_kwargs["cardinality"])
    check_positive_int("base_width", block_kwargs["base_width"])
    table = PLACEMENT_TABLE[validate_placement(placement)]
    validate_shortcut(shortcut)
    check_drop_path(drop_path_rate, shortcut is not None, f"the model {app.name!r}")
    stem_layer = Stem(stem, stem_chs, preact=table.normalizes_input, name="stem")
    has_pool = stem != "cifar"
    stage_strides = [1] + [2] * (len(widths) - 1)
    total_stride = stem_layer.strides * (2 if has_pool else 1) * 2 ** (len(widths) - 1)
    x, source_inputs = app.inputs(default_size=32 if stem == "cifar" else 224, min_size=total_stride)

    stride = stem_layer.strides
    x = stem_layer(x)
    features = {f"STEM_S{stride}": x}
    if has_pool:
        x = apply_sequence(stem_max_pool("stem_pool", non_negative_input=not stem_layer.preact), x)
        stride *= 2
    total_blocks = sum(layers)
    block_index = 0
    for stage, (count, width, stage_stride) in enumerate(zip(layers, widths, stage_strides), start=1):
        for index in range(1, count + 1):
            rate = drop_path_rate * block_index / max(total_blocks - 1, 1)
            x = block_cls(
                width,
                strides=stage_stride if index == 1 else 1,
                placement=placement,
                shortcut=shortcut,
                drop_path_rate=rate,
                name=f"stage{stage}_block{index}",
                **block_kwargs,
            )(x)
            block_index += 1
        stride *= stage_stride
        if stage == len(layers):
            # Pre-activation units leave their sum un-normalized; the network ends with BN-ReLU (He et al. 2016).
            x = apply_sequence([norm_or_activation(name, "relu") for name in table.network_end], x)
        features[f"STAGE{stage}_S{stride}"] = x
    return app.model(source_inputs, features, x, timm_mapping)


@application_builder(name="resnet")
def ResNet(
    layers=(3, 4, 6, 3),
    block="bottleneck",
    *,
    widths=(64, 128, 256, 512),
    stem="imagenet",
    stem_chs=64,
    shortcut="B",
    stride_in="3x3",
    cardinality=1,
    base_width=64,
    attention=None,
    placement="a",
    zero_init_last=True,
    drop_path_rate=0.0,
    block_kwargs=None,
    app,
):
    """ImageNet ResNet (He et al. 2015), with the timm options: deep stem + shortcut "D" is ResNet-D.

    `stem_chs` is the stem's output channel count (the deep stem's first two convs have half). `cardinality`
    groups of `base_width` channels per 64 filters make the bottleneck's 3x3 conv (ResNeXt).
    `stride_in="1x1"` puts the stride on the first 1x1 conv of each bottleneck (the 2015 paper and
    keras.applications, 3.8 GMACs for ResNet-50); the default strides the 3x3 conv (timm, 4.1 GMACs).
    `features_only=True` returns a backbone whose outputs are a dict of stride-tagged features
    (`STEM_S2`, `STAGE1_S4` ... `STAGE4_S32`: C2-C5). `block` may also be a `ResidualBlock` subclass;
    `block_kwargs` go to every block on top of the above (e.g. Res2Net's `scale`). The keras.applications
    arguments (`include_top`, `weights`, `classes`, ...) are described in `ApplicationArgs`.
    """
    block_kwargs = dict(
        cardinality=cardinality, base_width=base_width, attention=attention, zero_init_last=zero_init_last,
        **(block_kwargs or {}),
    )
    if block == "bottleneck":
        block_kwargs["stride_in"] = stride_in
    mapping = timm_resnet_v2_mapping if placement == "e" else timm_resnet_v1_mapping(shortcut == "D")
    return residual_network(
        layers=layers, block=block, widths=widths, stem=stem, stem_chs=stem_chs, placement=placement,
        shortcut=shortcut, block_kwargs=block_kwargs, drop_path_rate=drop_path_rate, app=app, timm_mapping=mapping,
    )


@extends(ResNet)
def ResNetV2(layers=(3, 4, 6, 3), block="bottleneck", *, placement="e", name="resnetv2", **kwargs):
    """Pre-activation ResNet for ImageNet (He et al. 2016; timm's resnetv2_*): full pre-activation units,
    a bare stem conv, projection shortcuts without BN, and a final BN-ReLU before pooling."""
    return ResNet(layers, block, placement=placement, name=name, **kwargs)


def cifar_stage_blocks(depth, block):
    """Blocks per stage of a 3-stage CIFAR net: depth = 6n + 2 (basic) or 9n + 2 (bottleneck)."""
    convs_per_block = 2 if block == "basic" else 3
    per_depth = 3 * convs_per_block
    if not is_int(depth) or depth < per_depth + 2 or (depth - 2) % per_depth:
        raise ValueError(
            f"CIFAR ResNet depth with {block} blocks must be {per_depth}n+2 for n >= 1 "
            f"(e.g. {', '.join(str(per_depth * n + 2) for n in (1, 2, 3, 6))}), got {depth!r}."
        )
    return (depth - 2) // per_depth


@application_builder(classes=10, name="cifar_resnet")
def CifarResNet(
    depth=20,
    block="basic",
    *,
    widths=(16, 32, 64),
    stem_chs=16,
    shortcut="A",
    placement="a",
    plain=False,
    cardinality=1,
    base_width=64,
    attention=None,
    dropout_rate=0.0,
    zero_init_last=None,
    drop_path_rate=0.0,
    app,
):
    """The CIFAR ResNets of He et al. 2015 Sec. 4.2 (3x3 16-channel stem, stages of 16/32/64 filters,
    option-A shortcuts) and 2016 (pre-activation, any `placement` (a)-(e)). `plain=True` removes every
    shortcut: the plain nets of the degradation experiment. Other arguments as `ResNet`.

    `zero_init_last` starts each residual branch at zero. By default only nets deeper than 200 layers do
    (ResNet-1202, PreAct-ResNet-1001): before training, inference-mode BatchNorm does not normalize, and their
    activations would overflow through hundreds of blocks. Shallower nets keep the papers' initialization (a
    zero last BatchNorm slows short runs: 49% instead of 58% test accuracy after one epoch of ResNet-20).
    """
    _block_class(block)
    blocks = cifar_stage_blocks(depth, block)
    if zero_init_last is None:
        zero_init_last = depth > 200 and not plain
    block_kwargs = dict(
        cardinality=cardinality, base_width=base_width, attention=attention, zero_init_last=zero_init_last,
        dropout_rate=dropout_rate,
    )
    return residual_network(
        layers=(blocks,) * len(widths), block=block, widths=widths, stem="cifar", stem_chs=stem_chs,
        placement=placement, shortcut=None if plain else shortcut, block_kwargs=block_kwargs,
        drop_path_rate=drop_path_rate, app=app,
    )


@extends(CifarResNet)
def PreActResNet(depth=164, block="bottleneck", *, placement="e", shortcut="B", name="preact_resnet", **kwargs):
    """CIFAR pre-activation ResNets of He et al. 2016 (ResNet-164/1001: bottlenecks, projection shortcuts
    when the channels change). `placement` picks the unit of Fig. 4: 'a' original ... 'e' full pre-activation."""
    return CifarResNet(depth, block, placement=placement, shortcut=shortcut, name=name, **kwargs)


# ----------------------------------------------------------------------------------------------- timm names

_BLOCK_LAYER = re.compile(r"stage(\d+)_block(\d+)_(.+)")
_SE_LAYER = re.compile(r"se_(fc1|fc2|bn)")
_SPLIT_LAYER = re.compile(r"split_(conv|bn)(\d+)")  # Res2Net's 3x3 groups: timm's convs.{i} / bns.{i}


def timm_resnet_v1_mapping(avg_down):
    """Layer name -> timm.models.resnet.ResNet module prefix."""
    stem = {
        "stem_conv": "conv1",
        "stem_bn": "bn1",
        "stem_conv1": "conv1.0",
        "stem_bn1": "conv1.1",
        "stem_conv2": "conv1.3",
        "stem_bn2": "conv1.4",
        "stem_conv3": "conv1.6",
        "stem_bn3": "bn1",
        "predictions": "fc",
    }
    shortcut = {"shortcut_conv": "downsample.1", "shortcut_bn": "downsample.2"} if avg_down else {
        "shortcut_conv": "downsample.0",
        "shortcut_bn": "downsample.1",
    }

    def mapping(layer_name):
        if layer_name in stem:
            return stem[layer_name]
        match = _BLOCK_LAYER.fullmatch(layer_name)
        if not match:
            return None
        stage, index, part = match.groups()
        part = shortcut.get(part) or re.sub(_SE_LAYER, r"se.\1", part)
        part = _SPLIT_LAYER.sub(lambda match: f"{match[1]}s.{int(match[2]) - 1}", part)
        return f"layer{stage}.{int(index) - 1}.{part}"

    return mapping


def timm_resnet_v2_mapping(layer_name):
    """Layer name -> timm.models.resnetv2.ResNetV2 module prefix."""
    fixed = {
        "stem_conv": "stem.conv",
        "stem_conv1": "stem.conv1",
        "stem_bn1": "stem.norm1",
        "stem_conv2": "stem.conv2",
        "stem_bn2": "stem.norm2",
        "stem_conv3": "stem.conv3",
        "final_bn": "norm",
        "predictions": "head.fc",
    }
    if layer_name in fixed:
        return fixed[layer_name]
    match = _BLOCK_LAYER.fullmatch(layer_name)
    if not match:
        return None
    stage, index, part = match.groups()
    part = {"shortcut_conv": "downsample.conv"}.get(part) or re.sub(r"bn(\d)", r"norm\1", part)
    return f"stages.{int(stage) - 1}.blocks.{int(index) - 1}.{part}"


# ------------------------------------------------------------------------------------------------- registry

HE2015 = "He et al. 2015, Deep Residual Learning for Image Recognition (arXiv:1512.03385)"
HE2016 = "He et al. 2016, Identity Mappings in Deep Residual Networks (arXiv:1603.05027)"
BAG_OF_TRICKS = "He et al. 2019, Bag of Tricks for Image Classification (ResNet-D, arXiv:1812.01187)"

# Parameter counts: timm (ImageNet, 1000 classes) or the papers' nets (CIFAR, 10 classes); MACs: the papers'.
_V1 = dict(family="resnet", paper=HE2015, dataset="imagenet")
register_model("resnet18", ResNet, dict(block="basic", layers=(2, 2, 2, 2)), params=11689512, macs=1.8e9, **_V1)
register_model("resnet34", ResNet, dict(block="basic", layers=(3, 4, 6, 3)), params=21797672, macs=3.6e9, **_V1)
register_model("resnet50", ResNet, dict(block="bottleneck", layers=(3, 4, 6, 3)), params=25557032, macs=4.1e9, **_V1)
register_model("resnet101", ResNet, dict(block="bottleneck", layers=(3, 4, 23, 3)), params=44549160, macs=7.6e9,
               **_V1)
register_model("resnet152", ResNet, dict(block="bottleneck", layers=(3, 8, 36, 3)), params=60192808, macs=11.3e9,
               **_V1)
register_model("resnet200", ResNet, dict(block="bottleneck", layers=(3, 24, 36, 3)), params=64673832, **_V1)

_D = dict(family="resnet", paper=BAG_OF_TRICKS, dataset="imagenet")
register_model("resnet18d", ResNet, dict(block="basic", layers=(2, 2, 2, 2), stem="deep", shortcut="D"),
               params=11708744, **_D)
register_model("resnet50d", ResNet, dict(block="bottleneck", layers=(3, 4, 6, 3), stem="deep", shortcut="D"),
               params=25576264, **_D)
register_model("resnet101d", ResNet, dict(block="bottleneck", layers=(3, 4, 23, 3), stem="deep", shortcut="D"),
               params=44568392, **_D)
register_model("resnet152d", ResNet, dict(block="bottleneck", layers=(3, 8, 36, 3), stem="deep", shortcut="D"),
               params=60212040, **_D)

_V2 = dict(family="resnetv2", paper=HE2016, dataset="imagenet")
register_model("resnetv2_18", ResNetV2, dict(block="basic", layers=(2, 2, 2, 2)), params=11687720, **_V2)
register_model("resnetv2_34", ResNetV2, dict(block="basic", layers=(3, 4, 6, 3)), params=21795880, **_V2)
register_model("resnetv2_50", ResNetV2, dict(block="bottleneck", layers=(3, 4, 6, 3)), params=25549352, **_V2)
register_model("resnetv2_101", ResNetV2, dict(block="bottleneck", layers=(3, 4, 23, 3)), params=44541480, **_V2)
register_model("resnetv2_152", ResNetV2, dict(block="bottleneck", layers=(3, 8, 36, 3)), params=60185128, **_V2)
register_model("resnetv2_50d", ResNetV2, dict(block="bottleneck", layers=(3, 4, 6, 3), stem="deep", shortcut="D"),
               params=25568584, **_V2)

# The CIFAR nets of He et al. 2015 Sec. 4.2, ResNet-n and the plain net of the same depth (same parameters).
for _depth, _params in {20: 269722, 32: 464154, 44: 658586, 56: 853018, 110: 1727962, 1202: 19421274}.items():
    register_model(f"resnet{_depth}", CifarResNet, dict(depth=_depth), family="cifar_resnet", paper=HE2015,
                   dataset="cifar", params=_params)
    if _depth <= 110:
        register_model(f"plain{_depth}", CifarResNet, dict(depth=_depth, plain=True), family="cifar_plain",
                       paper=HE2015, dataset="cifar", params=_params)

_PREACT = dict(family="cifar_preact", paper=HE2016, dataset="cifar")
register_model("preact_resnet110", PreActResNet, dict(depth=110, block="basic", shortcut="A"), **_PREACT)
register_model("preact_resnet164", PreActResNet, dict(depth=164), params=1703258, **_PREACT)
register_model("preact_resnet1001", PreActResNet, dict(depth=1001), params=10327706, **_PREACT)
