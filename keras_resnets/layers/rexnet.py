"""ReXNet's linear bottleneck (Han et al. 2021, "Rethinking Channel Dimensions"; official clovaai code = timm).

An inverted residual: [1x1 expand, BN, SiLU] -> 3x3 depthwise, BN (no activation) -> [SE with BN] -> ReLU6 ->
linear 1x1 projection, BN. The residual is added to the first `in_channels` output channels only.
"""

from keras_resnets.backend import keras
from keras_resnets.checks import check_choice, check_positive_int, check_range, check_rate
from keras_resnets.layers.attention import SqueezeExcite, make_divisible
from keras_resnets.layers.base import (
    CompositeLayer,
    activation,
    apply_sequence,
    batch_norm,
    conv2d,
    depthwise_conv2d,
    register,
)
from keras_resnets.layers.primitives import DropPath, SubsampleZeroPad
from keras_resnets.layers.residual import check_drop_path


def conv_bn_act(filters, kernel_size, name, strides=1, act=None):
    """timm's ConvNormAct: conv (PyTorch padding), BN, optional activation; layers `{name}_conv/_bn/_act`."""
    layers = conv2d(filters, kernel_size, f"{name}_conv", strides) + [batch_norm(f"{name}_bn")]
    return layers + [activation(act, f"{name}_act")] if act else layers


@register
class LinearBottleneck(CompositeLayer):
    """ReXNet block. `expansion` 1 has no expansion conv; `se_ratio` 0 has no SE.

    Channel rounding follows timm: expanded width `make_divisible(round(in * expansion), ch_div)`, SE width
    `make_divisible(int(expanded * se_ratio), ch_div)`. The partial residual (stride 1, in <= out) zero-pads
    the input's channels up to `filters` and adds: the same numbers as adding to the first `in` channels,
    with only Pad + Add, which TFLite runs as built-ins in float and int8.
    """

    def __init__(
        self,
        filters,
        strides=1,
        expansion=1.0,
        se_ratio=0.0,
        ch_div=1,
        activation="silu",
        dw_activation="relu6",
        drop_path_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("LinearBottleneck filters", filters)
        self.strides = check_choice("LinearBottleneck strides", strides, (1, 2))
        self.expansion = check_range("LinearBottleneck expansion", expansion, "[1, inf)")
        self.se_ratio = check_range("LinearBottleneck se_ratio", se_ratio, "[0, 1]")  # 0: no SE
        self.ch_div = check_positive_int("LinearBottleneck ch_div", ch_div)
        self.activation = activation
        self.dw_activation = dw_activation
        self.drop_path_rate = check_rate("drop_path_rate", drop_path_rate)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        name = self.sublayer_name
        self.branch_layers = []
        dw_channels = in_channels
        if self.expansion != 1:
            dw_channels = make_divisible(round(in_channels * self.expansion), self.ch_div)
            self.branch_layers += conv_bn_act(dw_channels, 1, name("exp"), act=self.activation)
        self.branch_layers += depthwise_conv2d(3, name("dw_conv"), self.strides) + [batch_norm(name("dw_bn"))]
        if self.se_ratio > 0:
            rd_channels = make_divisible(int(dw_channels * self.se_ratio), self.ch_div)
            self.branch_layers.append(SqueezeExcite(rd_channels=rd_channels, use_bn=True, name=name("se")))
        self.branch_layers.append(activation(self.dw_activation, name("dw_act")))
        self.branch_layers += conv_bn_act(self.filters, 1, name("pwl"))
        self.shortcut_layers = None
        check_drop_path(self.drop_path_rate, self.has_shortcut(in_channels), f"the LinearBottleneck {self.name!r}")
        if self.has_shortcut(in_channels):
            if self.drop_path_rate > 0.0:
                self.branch_layers.append(DropPath(self.drop_path_rate, name=name("drop_path")))
            extra = self.filters - in_channels
            self.shortcut_layers = [SubsampleZeroPad(1, extra, name=name("shortcut_pad"))] if extra else []
            self.merge = keras.layers.Add(name=name("add"))
        self.built = True

    def has_shortcut(self, in_channels):
        """timm's `use_shortcut`: the residual is added only where the block keeps the resolution and does not
        reduce the channels."""
        return self.strides == 1 and in_channels <= self.filters

    def call(self, inputs):
        x = apply_sequence(self.branch_layers, inputs)
        if self.shortcut_layers is None:
            return x
        return self.merge([x, apply_sequence(self.shortcut_layers, inputs)])

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "expansion": self.expansion,
            "se_ratio": self.se_ratio,
            "ch_div": self.ch_div,
            "activation": self.activation,
            "dw_activation": self.dw_activation,
            "drop_path_rate": self.drop_path_rate,
        }
