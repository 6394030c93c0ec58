"""Channel attention that any block can append to its residual branch."""

from keras_resnets.backend import keras
from keras_resnets.checks import check_positive_int, check_range
from keras_resnets.layers.base import CompositeLayer, apply_sequence, batch_norm, conv_initializer, register


def make_divisible(value, divisor=8, round_limit=0.9):
    """timm's rounding of channel counts to a multiple of `divisor`, never more than 10% down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


@register
class SqueezeExcite(CompositeLayer):
    """Squeeze-and-excitation (Hu et al. 2018): x * gate(W2 act(W1 mean(x))).

    The reduced width is `rd_channels`, or `channels * rd_ratio` rounded to a multiple of `rd_divisor`
    (timm's SEModule: ratio 1/16, divisor 8, no extra rounding up). ReXNet puts a BN after the reduction.
    """

    def __init__(
        self,
        rd_ratio=1 / 16,
        rd_channels=None,
        rd_divisor=8,
        activation="relu",
        gate="sigmoid",
        use_bn=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rd_channels is None:
            check_range("SqueezeExcite rd_ratio", rd_ratio, "(0, 1]")
        check_positive_int("SqueezeExcite rd_channels", rd_channels, allow_none=True)
        self.rd_ratio = rd_ratio
        self.rd_channels = rd_channels
        self.rd_divisor = rd_divisor
        self.activation = activation
        self.gate = gate
        self.use_bn = use_bn

    def reduced_channels(self, channels):
        if self.rd_channels is not None:
            return self.rd_channels
        return make_divisible(channels * self.rd_ratio, self.rd_divisor, round_limit=0.0)

    def build(self, input_shape):
        channels = input_shape[-1]
        name = self.sublayer_name
        conv = lambda filters, suffix: keras.layers.Conv2D(  # noqa: E731
            filters, 1, use_bias=True, kernel_initializer=conv_initializer(), name=name(suffix)
        )
        self.gate_layers = [
            keras.layers.GlobalAveragePooling2D(keepdims=True, name=name("pool")),
            conv(self.reduced_channels(channels), "fc1"),
        ]
        if self.use_bn:
            self.gate_layers.append(batch_norm(name("bn")))
        self.gate_layers += [
            keras.layers.Activation(self.activation, name=name("act")),
            conv(channels, "fc2"),
            keras.layers.Activation(self.gate, name=name("gate")),
        ]
        self.scale = keras.layers.Multiply(name=name("scale"))
        self.built = True

    def call(self, inputs):
        return self.scale([inputs, apply_sequence(self.gate_layers, inputs)])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rd_ratio": self.rd_ratio,
            "rd_channels": self.rd_channels,
            "rd_divisor": self.rd_divisor,
            "activation": self.activation,
            "gate": self.gate,
            "use_bn": self.use_bn,
        }


ATTENTION_TYPES = {"se": SqueezeExcite}


def make_attention(spec, name):
    """Builds the attention layer described by `spec`: None, "se", or {"type": "se", **kwargs}."""
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"type": spec}
    kind = spec.get("type")
    if kind not in ATTENTION_TYPES:
        raise ValueError(f"Unknown attention type {kind!r}; allowed: {sorted(ATTENTION_TYPES)} or None.")
    kwargs = {key: value for key, value in spec.items() if key != "type"}
    return ATTENTION_TYPES[kind](name=name, **kwargs)
