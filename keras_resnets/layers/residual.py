"""Residual blocks: basic and bottleneck, original (v1) and pre-activation (v2) in one generic unit.

A residual unit is a list of convolutions. Where BatchNorm and ReLU sit around them is the *placement* of
He et al. 2016, Fig. 4:

  (a) original            conv-BN-ReLU-conv-BN, add, ReLU          (ResNet v1)
  (b) BN after addition   conv-BN-ReLU-conv, add, BN, ReLU
  (c) ReLU before add     conv-BN-ReLU-conv-BN-ReLU, add
  (d) ReLU-only preact    ReLU-conv-BN-ReLU-conv-BN, add
  (e) full preact         BN-ReLU-conv-BN-ReLU-conv, add           (ResNet v2)

In (d) and (e) a projection shortcut takes the pre-activated input and has no BatchNorm of its own.
Grouped convs (ResNeXt), attention (SE) and dropout between convs (Wide ResNet) are constructor arguments.
"""

from keras_resnets.backend import keras
from keras_resnets.layers.attention import make_attention
from keras_resnets.layers.base import (
    CompositeLayer,
    activation,
    apply_sequence,
    batch_norm,
    conv2d,
    register,
)
from keras_resnets.layers.primitives import DropPath
from keras_resnets.layers.shortcut import shortcut_layers, validate_shortcut

PLACEMENTS = {
    "a": "original: conv-BN-ReLU-conv-BN, add, ReLU",
    "b": "BN after addition",
    "c": "ReLU before addition",
    "d": "ReLU-only pre-activation",
    "e": "full pre-activation: BN-ReLU-conv-BN-ReLU-conv, add",
}
PREACT_PLACEMENTS = ("d", "e")
STRIDE_POSITIONS = ("3x3", "1x1")


def bottleneck_width(filters, base_width, groups):
    """timm's inner width of a bottleneck: `int(filters * base_width / 64) * groups`."""
    return int(filters * (base_width / 64.0)) * groups


def validate_placement(placement):
    if placement not in PLACEMENTS:
        allowed = "; ".join(f"'{key}' ({text})" for key, text in PLACEMENTS.items())
        raise ValueError(f"Unknown unit placement {placement!r}; allowed: {allowed}.")
    return placement


class ResidualBlock(CompositeLayer):
    """The generic residual unit; subclasses only say which convolutions the residual branch has."""

    expansion = 1

    def __init__(
        self,
        filters,
        strides=1,
        placement="a",
        shortcut="B",
        groups=1,
        base_width=64,
        attention=None,
        dropout_rate=0.0,
        drop_path_rate=0.0,
        zero_init_last=False,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"{type(self).__name__} filters must be >= 1, got {filters}.")
        if int(strides) < 1:
            raise ValueError(f"{type(self).__name__} strides must be >= 1, got {strides}.")
        if int(groups) < 1:
            raise ValueError(f"{type(self).__name__} groups (cardinality) must be >= 1, got {groups}.")
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}.")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}.")
        if drop_path_rate and shortcut is None:
            raise ValueError("drop_path_rate needs a shortcut: in a unit without one (shortcut=None, a plain net) "
                             "dropping the residual branch drops the whole signal. Use dropout_rate instead.")
        self.filters = int(filters)
        self.strides = int(strides)
        self.placement = validate_placement(placement)
        self.shortcut = validate_shortcut(shortcut)
        self.groups = int(groups)
        self.base_width = base_width
        self.attention = attention
        self.dropout_rate = dropout_rate
        self.drop_path_rate = drop_path_rate
        self.zero_init_last = zero_init_last
        self.activation = activation

    @property
    def out_channels(self):
        return self.filters * self.expansion

    def conv_specs(self):
        """[(kernel_size, filters, strides, groups) or a ready layer, ...] of the residual branch."""
        raise NotImplementedError

    def build(self, input_shape):
        in_channels = input_shape[-1]
        name = self.sublayer_name
        preact = self.placement in PREACT_PLACEMENTS
        self.preact_layers = []
        if self.placement == "d":
            self.preact_layers = [activation(self.activation, name("preact"))]
        elif self.placement == "e":
            self.preact_layers = [batch_norm(name("bn1")), activation(self.activation, name("act1"))]
        self.residual_layers = self._residual_branch()
        self.shortcut_layers = None
        if self.shortcut is not None:
            self.shortcut_layers = shortcut_layers(
                self.shortcut, in_channels, self.out_channels, self.strides, name("shortcut"), norm=not preact
            )
            self.merge = keras.layers.Add(name=name("add"))
        self.post_layers = []
        if self.placement == "a":
            self.post_layers = [activation(self.activation, name("out_act"))]
        elif self.placement == "b":
            self.post_layers = [batch_norm(name("out_bn")), activation(self.activation, name("out_act"))]
        self.built = True

    def _residual_branch(self):
        name = self.sublayer_name
        specs = self.conv_specs()
        layers = []
        for index, spec in enumerate(specs, start=1):
            last = index == len(specs)
            if self.placement == "e" and index > 1:
                layers += [batch_norm(name(f"bn{index}")), activation(self.activation, name(f"act{index}"))]
            if index == 2 and self.dropout_rate > 0.0:
                # Wide ResNet: dropout right before the second conv (Zagoruyko & Komodakis 2016).
                layers.append(keras.layers.Dropout(self.dropout_rate, name=name("dropout")))
            if isinstance(spec, keras.layers.Layer):
                # A unit with its own convs, BN and activation (Res2Net's split) takes a conv's place whole.
                layers.append(spec)
                continue
            kernel_size, filters, strides, groups = spec
            if self.placement == "e":
                zero_init = last and self.zero_init_last
                layers += conv2d(filters, kernel_size, name(f"conv{index}"), strides, groups, zero_init=zero_init)
                continue
            layers += conv2d(filters, kernel_size, name(f"conv{index}"), strides, groups)
            if not (last and self.placement == "b"):
                layers.append(batch_norm(name(f"bn{index}"), zero_gamma=last and self.zero_init_last))
            if not last or self.placement == "c":
                layers.append(activation(self.activation, name(f"act{index}")))
        attention = make_attention(self.attention, name("se"))
        if attention is not None:
            layers.append(attention)
        if self.drop_path_rate > 0.0:
            layers.append(DropPath(self.drop_path_rate, name=name("drop_path")))
        return layers

    def branches(self, inputs):
        """(shortcut, residual): the two terms the unit adds, computed from `inputs`; shortcut is None in a unit
        without one (a plain net). `call` adds them and applies `post_layers`; model surgery and path sampling
        (keras_resnets.studies) recombine them."""
        preactivated = apply_sequence(self.preact_layers, inputs)
        residual = apply_sequence(self.residual_layers, preactivated)
        if self.shortcut_layers is None:
            return None, residual
        # An identity shortcut carries the raw input; a projection reads the pre-activated one.
        shortcut_input = preactivated if self.shortcut_layers else inputs
        return apply_sequence(self.shortcut_layers, shortcut_input), residual

    def call(self, inputs):
        shortcut, x = self.branches(inputs)
        if shortcut is not None:
            x = self.merge([shortcut, x])
        return apply_sequence(self.post_layers, x)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "placement": self.placement,
            "shortcut": self.shortcut,
            "groups": self.groups,
            "base_width": self.base_width,
            "attention": self.attention,
            "dropout_rate": self.dropout_rate,
            "drop_path_rate": self.drop_path_rate,
            "zero_init_last": self.zero_init_last,
            "activation": self.activation,
        }


@register
class BasicBlock(ResidualBlock):
    """Two 3x3 convolutions (ResNet-18/34, the CIFAR ResNets). Stride on the first conv."""

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(filters, strides, **kwargs)
        if self.groups != 1 or self.base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64; use Bottleneck for ResNeXt.")

    def conv_specs(self):
        return [(3, self.filters, self.strides, 1), (3, self.filters, 1, 1)]


@register
class Bottleneck(ResidualBlock):
    """1x1 reduce, 3x3 (optionally grouped), 1x1 expand by `expansion`.

    `stride_in="3x3"` strides the 3x3 conv (timm/torchvision "v1.5", default); `"1x1"` strides the first
    1x1 conv as in the 2015 paper and keras.applications. The inner width is
    `int(filters * base_width / 64) * groups`, so ResNeXt-50 32x4d is `filters=64, groups=32, base_width=4`.
    """

    def __init__(self, filters, strides=1, expansion=4, stride_in="3x3", width=None, **kwargs):
        super().__init__(filters, strides, **kwargs)
        if stride_in not in STRIDE_POSITIONS:
            raise ValueError(f"Unknown stride_in {stride_in!r}; allowed: {STRIDE_POSITIONS}.")
        if int(expansion) < 1:
            raise ValueError(f"Bottleneck expansion must be >= 1, got {expansion}.")
        if width is not None and (int(width) < 1 or int(width) % self.groups):
            raise ValueError(
                f"Bottleneck width must be a positive multiple of the cardinality (groups={self.groups}), "
                f"got width={width}."
            )
        self.expansion = int(expansion)
        self.stride_in = stride_in
        self.explicit_width = None if width is None else int(width)

    @property
    def width(self):
        """The inner (3x3) width: explicit, or `int(filters * base_width / 64) * groups` as in timm."""
        if self.explicit_width is not None:
            return self.explicit_width
        return bottleneck_width(self.filters, self.base_width, self.groups)

    def conv_specs(self):
        strides_1x1, strides_3x3 = (self.strides, 1) if self.stride_in == "1x1" else (1, self.strides)
        return [
            (1, self.width, strides_1x1, 1),
            (3, self.width, strides_3x3, self.groups),
            (1, self.out_channels, 1, 1),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "expansion": self.expansion,
            "stride_in": self.stride_in,
            "width": self.explicit_width,
        }


@register
class PreActBasicBlock(BasicBlock):
    """BasicBlock with full pre-activation (placement "e") by default (He et al. 2016)."""

    def __init__(self, filters, strides=1, placement="e", **kwargs):
        super().__init__(filters, strides, placement=placement, **kwargs)


@register
class PreActBottleneck(Bottleneck):
    """Bottleneck with full pre-activation (placement "e") by default (He et al. 2016)."""

    def __init__(self, filters, strides=1, placement="e", **kwargs):
        super().__init__(filters, strides, placement=placement, **kwargs)
