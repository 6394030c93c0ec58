"""Primitive layers that Keras lacks. Each converts to TFLite built-in ops (StridedSlice, Pad, MirrorPad, Mul)."""

from keras_resnets.backend import keras, ops, random_uniform, seed_generator
from keras_resnets.checks import check_rate
from keras_resnets.layers.base import register


@register
class DropPath(keras.layers.Layer):
    """Stochastic depth: drops a whole residual branch per sample while training (Huang et al. 2016)."""

    def __init__(self, rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("DropPath rate", rate)
        self.seed_generator = seed_generator()

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        batch = ops.shape(inputs)[0]
        noise = random_uniform((batch, 1, 1, 1), dtype=inputs.dtype, seed=self.seed_generator)
        mask = ops.floor(keep + noise)
        return inputs / keep * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@register
class SubsampleZeroPad(keras.layers.Layer):
    """Option-A shortcut (He et al. 2015, CIFAR): take every `strides`-th pixel, zero-pad the extra channels.

    It has no parameters: the residual branch supplies all new channels.
    """

    def __init__(self, strides=2, extra_channels=0, **kwargs):
        super().__init__(**kwargs)
        self.strides = strides
        self.extra_channels = extra_channels

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :] if self.strides > 1 else inputs
        if self.extra_channels:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.extra_channels]])
        return x

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        if self.strides > 1:
            height = None if height is None else -(-height // self.strides)
            width = None if width is None else -(-width // self.strides)
        return (batch, height, width, channels + self.extra_channels)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides, "extra_channels": self.extra_channels}


@register
class SymmetricPadding2D(keras.layers.Layer):
    """Mirror padding that repeats the border pixels.

    Before a max-pool of kernel k with padding p <= k // 2 it gives exactly PyTorch's -inf padding (a mirrored
    pixel is already inside the window), while keeping every value inside the data's range, which int8
    quantization needs.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding

    def call(self, inputs):
        p = self.padding
        # MirrorPad on TensorFlow; Keras' PyTorch backend pads "symmetric" as "replicate", the same for p = 1.
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="symmetric")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = lambda size: None if size is None else size + 2 * self.padding  # noqa: E731
        return (batch, grow(height), grow(width), channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
