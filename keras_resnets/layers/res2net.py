"""Res2Net / Res2NeXt (Gao et al. 2019): a bottleneck whose 3x3 conv is a hierarchy of small 3x3 convs.

The 1x1 output is split into `scale` groups of `width` channels. Each group but the last gets its own 3x3
conv + BN + ReLU; in a "normal" block it first adds the previous group's output, so later groups see ever
larger receptive fields. In a "stage" block (the first of a stage: it strides or projects its shortcut) the
groups are not chained and the last group is average-pooled instead of passed on. This follows timm's
Bottle2neck, the reference for the weights (the paper's figure passes the *first* group on; timm and the
official code pass the last).
"""

from keras_resnets.backend import keras, ops
from keras_resnets.checks import check_positive_int
from keras_resnets.layers.base import CompositeLayer, activation, apply_sequence, batch_norm, conv2d, register
from keras_resnets.layers.residual import ResidualBlock, inner_width
from keras_resnets.layers.shortcut import shortcut_transforms

SPLIT_TYPES = {
    "normal": "groups chained: each 3x3 conv first adds the previous group's output; the last group passes on",
    "stage": "first block of a stage: groups not chained; the last group is average-pooled",
}


@register
class ChannelSplit(keras.layers.Layer):
    """Splits the channels into `num_splits` equal parts (one TFLite built-in SPLIT)."""

    def __init__(self, num_splits=2, **kwargs):
        super().__init__(**kwargs)
        self.num_splits = check_positive_int("ChannelSplit num_splits", num_splits)

    def call(self, inputs):
        return ops.split(inputs, self.num_splits, axis=-1)

    def compute_output_shape(self, input_shape):
        *rest, channels = tuple(input_shape)
        return [tuple(rest) + (channels // self.num_splits,)] * self.num_splits

    def get_config(self):
        return {**super().get_config(), "num_splits": self.num_splits}


@register
class HierarchicalSplit(CompositeLayer):
    """The middle of a Res2Net bottleneck: split, `scale - 1` chained 3x3 conv-BN-ReLU groups, concat.

    The input has `scale * width` channels; the output has the same. `cardinality` is the number of groups of
    every 3x3 conv (Res2NeXt) and must divide `width`. The stride sits on each 3x3 conv and on the pool.
    """

    def __init__(self, scale=4, strides=1, cardinality=1, split_type="normal", activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.scale = check_positive_int("Res2Net scale", scale)
        self.strides = check_positive_int("HierarchicalSplit strides", strides)
        self.cardinality = check_positive_int("HierarchicalSplit cardinality", cardinality)
        if split_type not in SPLIT_TYPES:
            allowed = "; ".join(f"'{key}' ({text})" for key, text in SPLIT_TYPES.items())
            raise ValueError(f"Unknown split_type {split_type!r}; allowed: {allowed}.")
        self.split_type = split_type
        self.activation = activation

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.scale or (channels // self.scale) % self.cardinality:
            raise ValueError(
                f"{self.name}: the input's {channels} channels must split into scale={self.scale} groups "
                f"whose width is a multiple of cardinality={self.cardinality}."
            )
        width = channels // self.scale
        name = self.sublayer_name
        self.split = ChannelSplit(self.scale, name=name("chunk")) if self.scale > 1 else None
        # timm builds max(1, scale - 1) convs: with scale 1 the single group is convolved, nothing passes on.
        self.branches = [
            conv2d(width, 3, name(f"conv{i}"), self.strides, self.cardinality)
            + [batch_norm(name(f"bn{i}")), activation(self.activation, name(f"act{i}"))]
            for i in range(1, max(2, self.scale))
        ]
        self.chain = None
        if self.split_type == "normal":
            self.chain = [keras.layers.Add(name=name(f"add{i}")) for i in range(2, len(self.branches) + 1)]
        self.last_layers = []
        if self.split_type == "stage":
            # PyTorch AvgPool2d(3, stride, padding=1) counts the zero padding (count_include_pad=True);
            # TF "same" pooling does not, so pad explicitly and pool "valid".
            self.last_layers = [
                keras.layers.ZeroPadding2D(1, name=name("pool_pad")),
                keras.layers.AveragePooling2D(3, self.strides, padding="valid", name=name("pool")),
            ]
        self.concat = keras.layers.Concatenate(axis=-1, name=name("concat")) if self.scale > 1 else None
        self.built = True

    def call(self, inputs):
        pieces = self.split(inputs) if self.split is not None else [inputs]
        outputs = []
        for index, branch in enumerate(self.branches):
            x = pieces[index]
            if self.chain is not None and index > 0:
                x = self.chain[index - 1]([outputs[-1], x])
            outputs.append(apply_sequence(branch, x))
        if self.scale == 1:
            return outputs[0]
        outputs.append(apply_sequence(self.last_layers, pieces[-1]))
        return self.concat(outputs)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        shrink = lambda size: None if size is None else (size - 1) // self.strides + 1  # noqa: E731
        return (batch, shrink(height), shrink(width), channels)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "strides": self.strides,
            "cardinality": self.cardinality,
            "split_type": self.split_type,
            "activation": self.activation,
        }


@register
class Res2NetBottleneck(ResidualBlock):
    """1x1 to `scale * width`, the hierarchical split (`HierarchicalSplit`), 1x1 expand by 4.

    `width = int(filters * base_width / 64) * cardinality` channels per scale group, as in timm (Res2Net-50
    26w_4s is `base_width=26, scale=4`; Res2NeXt-50 is `base_width=4, cardinality=8, scale=4`). The block is a
    "stage" block when it strides or its shortcut projects, which depends on the input width, so the split
    is made in `build`. Placements (a)-(d) are supported; full pre-activation (e) is not defined for Res2Net.
    """

    expansion = 4

    def __init__(self, filters, strides=1, scale=4, base_width=26, **kwargs):
        super().__init__(filters, strides, base_width=base_width, **kwargs)
        self.scale = check_positive_int("Res2Net scale", scale)
        if self.placement == "e":
            raise ValueError(
                "Res2NetBottleneck supports placements 'a'-'d'; the split already normalizes each group, so "
                "full pre-activation ('e') is not defined for it."
            )
        if self.width < 1:
            raise ValueError(
                f"Res2NetBottleneck width int(filters * base_width / 64) * cardinality must be >= 1, got "
                f"filters={filters}, base_width={base_width}, cardinality={self.cardinality}."
            )

    @property
    def width(self):
        """Channels of one scale group."""
        return inner_width(self.filters, self.base_width, self.cardinality)

    def build(self, input_shape):
        # timm's `is_first`: a strided block, or one whose shortcut is a projection.
        transforms = shortcut_transforms(self.shortcut, input_shape[-1], self.out_channels, self.strides)
        self.split_type = "stage" if self.strides > 1 or transforms else "normal"
        super().build(input_shape)

    def conv_specs(self):
        split = HierarchicalSplit(
            self.scale, self.strides, self.cardinality, self.split_type, self.activation,
            name=self.sublayer_name("split"),
        )
        return [(1, self.width * self.scale, 1, 1), split, (1, self.out_channels, 1, 1)]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
