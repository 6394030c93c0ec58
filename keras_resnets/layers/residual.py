"""Residual blocks: basic and bottleneck, original (v1) and pre-activation (v2) in one generic unit.

A residual unit is a list of convolutions. Where BatchNorm and ReLU sit around them is the *placement* of
He et al. 2016, Fig. 4:

  (a) original            conv-BN-ReLU-conv-BN, add, ReLU          (ResNet v1)
  (b) BN after addition   conv-BN-ReLU-conv, add, BN, ReLU
  (c) ReLU before add     conv-BN-ReLU-conv-BN-ReLU, add
  (d) ReLU-only preact    ReLU-conv-BN-ReLU-conv-BN, add
  (e) full preact         BN-ReLU-conv-BN-ReLU-conv, add           (ResNet v2)

In (d) and (e) a projection shortcut takes the pre-activated input and has no BatchNorm of its own.
Grouped convs (ResNeXt's cardinality), attention (SE) and dropout between convs (Wide ResNet) are constructor
arguments. `PLACEMENT_TABLE` below is the figure as data; `ResidualBlock` only walks it.
"""

import dataclasses

from keras_resnets.backend import keras
from keras_resnets.checks import check_choice, check_positive_int, check_rate
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
STRIDE_POSITIONS = ("3x3", "1x1")


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where BN and ReLU sit in a unit, as names of sublayers: "bn..." names are BatchNorm, the others the
    activation. In `inner`, `{i}` is the conv just applied and `{next}` the one that follows; in `last`, `{i}`
    is the last conv. A unit with a `before` part is a pre-activation unit: its projection shortcut reads the
    pre-activated input and has no BN of its own."""

    before: tuple  # before the first conv
    inner: tuple  # after each conv but the last
    last: tuple  # after the last conv, before the addition
    after_add: tuple  # after the addition
    zero_init: str  # what `zero_init_last` starts at zero: the last BN's gamma, or the last conv's kernel
    network_end: tuple  # what a network of these units adds after its last one (before pooling)

    @property
    def preact(self):
        return bool(self.before)

    @property
    def normalizes_input(self):
        """Whether the unit starts with BN, so that what precedes it (a stem) can end with a bare conv."""
        return any(name.startswith("bn") for name in self.before)


# He et al. 2016, Fig. 4, one unit per line.
_BN_ACT, _BN_ACT_NEXT, _FINAL_BN_ACT = ("bn{i}", "act{i}"), ("bn{next}", "act{next}"), ("final_bn", "final_act")
PLACEMENT_TABLE = {
    #              before 1st conv   after inner conv  after last conv  after the addition    zero-init  network end
    "a": Placement((),               _BN_ACT,          ("bn{i}",),      ("out_act",),         "bn",   ()),
    "b": Placement((),               _BN_ACT,          (),              ("out_bn", "out_act"), None,  ()),
    "c": Placement((),               _BN_ACT,          _BN_ACT,         (),                   "bn",   ()),
    "d": Placement(("preact",),      _BN_ACT,          ("bn{i}",),      (),                   "bn",   ("final_act",)),
    "e": Placement(("bn1", "act1"),  _BN_ACT_NEXT,     (),              (),                   "conv", _FINAL_BN_ACT),
}


def inner_width(filters, base_width, cardinality):
    """timm's width of a bottleneck's 3x3 conv(s): `int(filters * base_width / 64) * cardinality`."""
    return int(filters * (base_width / 64.0)) * cardinality


def validate_placement(placement):
    if placement not in PLACEMENTS:
        allowed = "; ".join(f"'{key}' ({text})" for key, text in PLACEMENTS.items())
        raise ValueError(f"Unknown unit placement {placement!r}; allowed: {allowed}.")
    return placement


def check_drop_path(drop_path_rate, has_shortcut, where):
    """Stochastic depth drops the residual branch and keeps the shortcut: without a shortcut it would drop the
    whole signal, so a rate > 0 there is an error rather than a silently different model."""
    check_rate("drop_path_rate", drop_path_rate)
    if drop_path_rate and not has_shortcut:
        raise ValueError(
            f"drop_path_rate needs a shortcut: {where} has none (shortcut=None, a plain net, or a block that "
            "changes its shape without a projection), so dropping its residual branch would drop the whole "
            "signal. Use dropout_rate instead, or drop_path_rate=0."
        )
    return drop_path_rate


def norm_or_activation(name, activation_name, zero_gamma=False):
    """The BatchNorm or activation layer a `Placement` names."""
    if name.split("_")[-1].startswith("bn"):
        return batch_norm(name, zero_gamma=zero_gamma)
    return activation(activation_name, name)


class ResidualBlock(CompositeLayer):
    """The generic residual unit; subclasses only say which convolutions the residual branch has."""

    expansion = 1

    def __init__(
        self,
        filters,
        strides=1,
        placement="a",
        shortcut="B",
        cardinality=1,
        base_width=64,
        attention=None,
        dropout_rate=0.0,
        drop_path_rate=0.0,
        zero_init_last=False,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.filters = check_positive_int(f"{kind} filters", filters)
        self.strides = check_positive_int(f"{kind} strides", strides)
        self.cardinality = check_positive_int(f"{kind} cardinality", cardinality)
        self.placement = validate_placement(placement)
        self.shortcut = validate_shortcut(shortcut)
        self.base_width = base_width
        self.attention = attention
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        self.drop_path_rate = check_drop_path(drop_path_rate, shortcut is not None, f"the {kind} {self.name!r}")
        self.zero_init_last = zero_init_last
        self.activation = activation

    @property
    def out_channels(self):
        return self.filters * self.expansion

    def conv_specs(self):
        """[(kernel_size, filters, strides, groups) or a ready layer, ...] of the residual branch."""
        raise NotImplementedError

    def _placed(self, names, **numbers):
        return [norm_or_activation(self.sublayer_name(name.format(**numbers)), self.activation) for name in names]

    def build(self, input_shape):
        in_channels = input_shape[-1]
        name = self.sublayer_name
        table = PLACEMENT_TABLE[self.placement]
        self.preact_layers = self._placed(table.before)
        self.residual_layers = self._residual_branch(table)
        self.shortcut_layers = None
        if self.shortcut is not None:
            self.shortcut_layers = shortcut_layers(
                self.shortcut, in_channels, self.out_channels, self.strides, name("shortcut"), norm=not table.preact
            )
            self.merge = keras.layers.Add(name=name("add"))
        self.post_layers = self._placed(table.after_add)
        self.built = True

    def _residual_branch(self, table):
        name = self.sublayer_name
        specs = self.conv_specs()
        layers = []
        for index, spec in enumerate(specs, start=1):
            last = index == len(specs)
            if index == 2 and self.dropout_rate > 0.0:
                # Wide ResNet: dropout right before the second conv (Zagoruyko & Komodakis 2016).
                layers.append(keras.layers.Dropout(self.dropout_rate, name=name("dropout")))
            if isinstance(spec, keras.layers.Layer):
                # A unit with its own convs, BN and activation (Res2Net's split) takes a conv's place whole.
                layers.append(spec)
                continue
            kernel_size, filters, strides, groups = spec
            zero_kernel = last and self.zero_init_last and table.zero_init == "conv"
            layers += conv2d(filters, kernel_size, name(f"conv{index}"), strides, groups, zero_init=zero_kernel)
            for placed in table.last if last else table.inner:
                zero_gamma = last and self.zero_init_last and table.zero_init == "bn"
                layers.append(norm_or_activation(name(placed.format(i=index, next=index + 1)), self.activation,
                                                 zero_gamma=zero_gamma))
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
            "cardinality": self.cardinality,
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
        if self.cardinality != 1 or self.base_width != 64:
            raise ValueError("BasicBlock supports only cardinality=1 and base_width=64; use Bottleneck for ResNeXt.")

    def conv_specs(self):
        return [(3, self.filters, self.strides, 1), (3, self.filters, 1, 1)]


@register
class Bottleneck(ResidualBlock):
    """1x1 reduce, 3x3 (optionally grouped), 1x1 expand by `expansion`.

    `stride_in="3x3"` strides the 3x3 conv (timm/torchvision "v1.5", default); `"1x1"` strides the first
    1x1 conv as in the 2015 paper and keras.applications. The inner width is
    `int(filters * base_width / 64) * cardinality`, so ResNeXt-50 32x4d is `filters=64, cardinality=32,
    base_width=4`; `width` sets it directly.
    """

    def __init__(self, filters, strides=1, expansion=4, stride_in="3x3", width=None, **kwargs):
        super().__init__(filters, strides, **kwargs)
        self.stride_in = check_choice("stride_in", stride_in, STRIDE_POSITIONS)
        self.expansion = check_positive_int("Bottleneck expansion", expansion)
        if width is not None and (check_positive_int("Bottleneck width", width) % self.cardinality):
            raise ValueError(
                f"Bottleneck width must be a positive multiple of cardinality={self.cardinality}, got width={width}."
            )
        self.explicit_width = width

    @property
    def width(self):
        """The inner (3x3) width: explicit, or `int(filters * base_width / 64) * cardinality` as in timm."""
        if self.explicit_width is not None:
            return self.explicit_width
        return inner_width(self.filters, self.base_width, self.cardinality)

    def conv_specs(self):
        strides_1x1, strides_3x3 = (self.strides, 1) if self.stride_in == "1x1" else (1, self.strides)
        return [
            (1, self.width, strides_1x1, 1),
            (3, self.width, strides_3x3, self.cardinality),
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
