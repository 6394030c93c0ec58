"""ResNet v1 and v2 (pre-activation) builders for ImageNet and CIFAR, and their named variants.

One generic network: a stem, stages of residual blocks, an optional final BN-ReLU (pre-activation nets),
and the keras.applications head. Variants are short registered configurations, as in timm.
"""

import re

from keras_resnets.layers.base import activation, apply_sequence, batch_norm
from keras_resnets.layers.residual import BasicBlock, Bottleneck, ResidualBlock, validate_placement
from keras_resnets.layers.shortcut import validate_shortcut
from keras_resnets.layers.stems import Stem, stem_max_pool
from keras_resnets.checks import check_positive_int, check_rate
from keras_resnets.models.common import (
    classification_head,
    finish_model,
    model_inputs,
    validate_head_arguments,
)
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
    if len(layers) != len(widths) or any(not isinstance(count, int) or count < 1 for count in layers):
        raise ValueError(
            f"layers must give a positive block count for each of the {len(widths)} stages {tuple(widths)}, "
            f"got {layers}."
        )
    return layers


def residual_network(
    *,
    layers,
    block,
    widths,
    stem,
    stem_width,
    placement,
    shortcut,
    block_kwargs,
    drop_path_rate,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    head_dropout_rate,
    features_only,
    name,
    timm_mapping=None,
):
    """The generic residual network every ResNet builder configures."""
    block_cls = _block_class(block)
    layers = _validate_layers(layers, widths)
    validate_placement(placement)
    validate_shortcut(shortcut)
    validate_head_arguments(include_top and not features_only, pooling, classes, name)
    check_rate("drop_path_rate", drop_path_rate)
    check_rate("head_dropout_rate", head_dropout_rate)
    stem_layer = Stem(stem, stem_width, preact=placement == "e", name="stem")
    has_pool = stem != "cifar"
    stage_strides = [1] + [2] * (len(widths) - 1)
    total_stride = stem_layer.strides * (2 if has_pool else 1) * 2 ** (len(widths) - 1)
    default_size = 32 if stem == "cifar" else 224
    x, source_inputs = model_inputs(input_tensor, input_shape, default_size, total_stride, include_top, name)

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
            if placement == "e":
                x = batch_norm("final_bn")(x)
            if placement in ("d", "e"):
                x = activation("relu", "final_act")(x)
        features[f"STAGE{stage}_S{stride}"] = x
    if features_only:
        return finish_model(source_inputs, features, name, weights, timm_mapping)
    outputs = classification_head(x, include_top, pooling, classes, classifier_activation, head_dropout_rate)
    return finish_model(source_inputs, outputs, name, weights, timm_mapping)


def ResNet(
    layers=(3, 4, 6, 3),
    block="bottleneck",
    *,
    widths=(64, 128, 256, 512),
    stem="imagenet",
    stem_width=64,
    shortcut="B",
    stride_in="3x3",
    groups=1,
    base_width=64,
    attention=None,
    placement="a",
    zero_init_last=True,
    drop_path_rate=0.0,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    head_dropout_rate=0.0,
    features_only=False,
    block_kwargs=None,
    name="resnet",
):
    """ImageNet ResNet (He et al. 2015), with the timm options: deep stem + shortcut "D" is ResNet-D.

    `stride_in="1x1"` puts the stride on the first 1x1 conv of each bottleneck (the 2015 paper and
    keras.applications, 3.8 GMACs for ResNet-50); the default strides the 3x3 conv (timm, 4.1 GMACs).
    `features_only=True` returns a backbone whose outputs are a dict of stride-tagged features
    (`STEM_S2`, `STAGE1_S4` ... `STAGE4_S32`: C2-C5). `block` may also be a `ResidualBlock` subclass;
    `block_kwargs` go to every block on top of the above (e.g. Res2Net's `scale`).
    """
    check_positive_int("groups", groups)
    check_positive_int("base_width", base_width)
    block_kwargs = dict(
        groups=groups, base_width=base_width, attention=attention, zero_init_last=zero_init_last,
        **(block_kwargs or {}),
    )
    if block == "bottleneck":
        block_kwargs["stride_in"] = stride_in
    mapping = timm_resnet_v2_mapping if placement == "e" else timm_resnet_v1_mapping(shortcut == "D")
    return residual_network(
        layers=layers,
        block=block,
        widths=widths,
        stem=stem,
        stem_width=stem_width,
        placement=placement,
        shortcut=shortcut,
        block_kwargs=block_kwargs,
        drop_path_rate=drop_path_rate,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        head_dropout_rate=head_dropout_rate,
        features_only=features_only,
        name=name,
        timm_mapping=mapping,
    )


def ResNetV2(layers=(3, 4, 6, 3), block="bottleneck", *, placement="e", name="resnetv2", **kwargs):
    """Pre-activation ResNet for ImageNet (He et al. 2016; timm's resnetv2_*): full pre-activation units,
    a bare stem conv, projection shortcuts without BN, and a final BN-ReLU before pooling."""
    return ResNet(layers, block, placement=placement, name=name, **kwargs)


def cifar_stage_blocks(depth, block):
    """Blocks per stage of a 3-stage CIFAR net: depth = 6n + 2 (basic) or 9n + 2 (bottleneck)."""
    convs_per_block = 2 if block == "basic" else 3
    per_depth = 3 * convs_per_block
    if not isinstance(depth, int) or depth < per_depth + 2 or (depth - 2) % per_depth:
        raise ValueError(
            f"CIFAR ResNet depth with {block} blocks must be {per_depth}n+2 for n >= 1 "
            f"(e.g. {', '.join(str(per_depth * n + 2) for n in (1, 2, 3, 6))}), got {depth!r}."
        )
    return (depth - 2) // per_depth


def CifarResNet(
    depth=20,
    block="basic",
    *,
    widths=(16, 32, 64),
    stem_width=16,
    shortcut="A",
    placement="a",
    plain=False,
    groups=1,
    base_width=64,
    attention=None,
    dropout_rate=0.0,
    zero_init_last=None,
    drop_path_rate=0.0,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    head_dropout_rate=0.0,
    features_only=False,
    name="cifar_resnet",
):
    """The CIFAR ResNets of He et al. 2015 Sec. 4.2 (3x3 16-channel stem, stages of 16/32/64 filters,
    option-A shortcuts) and 2016 (pre-activation, any `placement` (a)-(e)). `plain=True` removes every
    shortcut: the plain nets of the degradation experiment.

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
        groups=groups, base_width=base_width, attention=attention, zero_init_last=zero_init_last,
        dropout_rate=dropout_rate,
    )
    return residual_network(
        layers=(blocks,) * len(widths),
        block=block,
        widths=widths,
        stem="cifar",
        stem_width=stem_width,
        placement=placement,
        shortcut=None if plain else shortcut,
        block_kwargs=block_kwargs,
        drop_path_rate=drop_path_rate,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        head_dropout_rate=head_dropout_rate,
        features_only=features_only,
        name=name,
    )


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

_IMAGENET_V1 = {
    # name: (block, layers, deep stem + avg-down shortcut, params (timm), paper MACs)
    "resnet18": ("basic", (2, 2, 2, 2), False, 11689512, 1.8e9),
    "resnet34": ("basic", (3, 4, 6, 3), False, 21797672, 3.6e9),
    "resnet50": ("bottleneck", (3, 4, 6, 3), False, 25557032, 4.1e9),
    "resnet101": ("bottleneck", (3, 4, 23, 3), False, 44549160, 7.6e9),
    "resnet152": ("bottleneck", (3, 8, 36, 3), False, 60192808, 11.3e9),
    "resnet200": ("bottleneck", (3, 24, 36, 3), False, 64673832, None),
    "resnet18d": ("basic", (2, 2, 2, 2), True, 11708744, None),
    "resnet50d": ("bottleneck", (3, 4, 6, 3), True, 25576264, None),
    "resnet101d": ("bottleneck", (3, 4, 23, 3), True, 44568392, None),
    "resnet152d": ("bottleneck", (3, 8, 36, 3), True, 60212040, None),
}
for _name, (_block, _layers, _resnet_d, _params, _macs) in _IMAGENET_V1.items():
    _kwargs = dict(block=_block, layers=_layers)
    if _resnet_d:
        _kwargs.update(stem="deep", shortcut="D")
    register_model(
        _name, ResNet, _kwargs, family="resnet", paper=BAG_OF_TRICKS if _resnet_d else HE2015,
        dataset="imagenet", params=_params, macs=_macs,
    )

_IMAGENET_V2 = {
    "resnetv2_18": ("basic", (2, 2, 2, 2), False, 11687720),
    "resnetv2_34": ("basic", (3, 4, 6, 3), False, 21795880),
    "resnetv2_50": ("bottleneck", (3, 4, 6, 3), False, 25549352),
    "resnetv2_101": ("bottleneck", (3, 4, 23, 3), False, 44541480),
    "resnetv2_152": ("bottleneck", (3, 8, 36, 3), False, 60185128),
    "resnetv2_50d": ("bottleneck", (3, 4, 6, 3), True, 25568584),
}
for _name, (_block, _layers, _resnet_d, _params) in _IMAGENET_V2.items():
    _kwargs = dict(block=_block, layers=_layers)
    if _resnet_d:
        _kwargs.update(stem="deep", shortcut="D")
    register_model(_name, ResNetV2, _kwargs, family="resnetv2", paper=HE2016, dataset="imagenet", params=_params)

_CIFAR_PARAMS = {20: 269722, 32: 464154, 44: 658586, 56: 853018, 110: 1727962, 1202: 19421274}
for _depth, _params in _CIFAR_PARAMS.items():
    register_model(
        f"resnet{_depth}", CifarResNet, dict(depth=_depth), family="cifar_resnet", paper=HE2015,
        dataset="cifar", params=_params,
    )
    if _depth <= 110:
        register_model(
            f"plain{_depth}", CifarResNet, dict(depth=_depth, plain=True), family="cifar_plain", paper=HE2015,
            dataset="cifar", params=_params,
        )

register_model(
    "preact_resnet110", PreActResNet, dict(depth=110, block="basic", shortcut="A"), family="cifar_preact",
    paper=HE2016, dataset="cifar",
)
register_model(
    "preact_resnet164", PreActResNet, dict(depth=164), family="cifar_preact", paper=HE2016, dataset="cifar",
    params=1703258,
)
register_model(
    "preact_resnet1001", PreActResNet, dict(depth=1001), family="cifar_preact", paper=HE2016, dataset="cifar",
    params=10327706,
)
