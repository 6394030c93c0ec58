"""Rebuilding the architecture of a timm parity fixture (tests/fixtures/timm/<name>.json) with our builders."""

import json
import pathlib

import numpy as np

from keras_resnets.layers import Res2NetBottleneck

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "timm"


def _short(path):
    return path.rsplit(".", 1)[-1] if isinstance(path, str) else path


def resnet_v1_kwargs(kwargs):
    deep = kwargs.get("stem_type", "") == "deep"
    block_args = kwargs.get("block_args") or {}
    # timm's Res2Net is its ResNet class with the Bottle2neck block, whose `scale` comes in block_args.
    block = {"BasicBlock": "basic", "Bottleneck": "bottleneck", "Bottle2neck": Res2NetBottleneck}[
        _short(kwargs["block"])
    ]
    converted = dict(
        block=block,
        layers=tuple(kwargs["layers"]),
        widths=tuple(kwargs["channels"]),
        stem="deep" if deep else "imagenet",
        stem_chs=kwargs.get("stem_width", 64) * 2 if deep else 64,  # timm: the deep stem's inner width
        shortcut="D" if kwargs.get("avg_down") else "B",
        cardinality=kwargs.get("cardinality", 1),
        base_width=kwargs.get("base_width", 64),
        attention=block_args.get("attn_layer"),
    )
    if block is Res2NetBottleneck:
        converted["block_kwargs"] = dict(scale=block_args.get("scale", 4))
    return converted


def resnet_v2_kwargs(kwargs):
    basic = kwargs.get("basic", False)
    expansion = 1 if basic else 4
    return dict(
        block="basic" if basic else "bottleneck",
        layers=tuple(kwargs["layers"]),
        widths=tuple(channels // expansion for channels in kwargs["channels"]),
        stem="deep" if kwargs.get("stem_type", "") == "deep" else "imagenet",
        stem_chs=kwargs.get("stem_chs", 64),
        shortcut="D" if kwargs.get("avg_down") else "B",
    )


def rexnet_kwargs(kwargs):
    keys = ("width_mult", "depth_mult", "se_ratio", "ch_div", "initial_chs", "final_chs")
    return {key: kwargs[key] for key in keys if key in kwargs}


# timm class -> (our builder name in keras_resnets, converter of the constructor kwargs)
BUILDERS = {
    "timm.models.resnet.ResNet": ("ResNet", resnet_v1_kwargs),
    "timm.models.resnetv2.ResNetV2": ("ResNetV2", resnet_v2_kwargs),
    "timm.models.rexnet.RexNet": ("ReXNet", rexnet_kwargs),
}


def load_fixture(name):
    """(description, builder name, builder kwargs, inputs NHWC, timm logits, safetensors path)."""
    description = json.loads((FIXTURES / f"{name}.json").read_text())
    arrays = np.load(FIXTURES / f"{name}.npz")
    builder, convert = BUILDERS[description["timm_class"]]
    kwargs = convert(description["constructor_kwargs"])
    kwargs.update(classes=description["constructor_kwargs"]["num_classes"], classifier_activation=None)
    return description, builder, kwargs, arrays["inputs"], arrays["logits"], FIXTURES / f"{name}.safetensors"
