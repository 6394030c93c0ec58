"""What every block layer shares: registration, inlining for `flatten`, and primitive-layer factories."""

import contextlib
import threading

from keras_resnets.backend import keras

PACKAGE = "keras_resnets"

# PyTorch's BatchNorm epsilon: needed for parity with timm weights. Momentum 0.9 trains short runs better
# than Keras' 0.99 (PyTorch's 0.1 means the same as Keras' 0.9).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def register(cls):
    """Registers a layer class for `.keras` serialization under the package name."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def conv_initializer():
    # timm initializes convs with kaiming_normal(mode="fan_out", nonlinearity="relu").
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")


_inline_state = threading.local()


@contextlib.contextmanager
def inline_composites():
    """While active, calling a `CompositeLayer` runs its `call` directly, so its sublayers join the caller's graph."""
    previous = getattr(_inline_state, "active", False)
    _inline_state.active = True
    try:
        yield
    finally:
        _inline_state.active = previous


class CompositeLayer(keras.layers.Layer):
    """A block whose `call` only composes primitive Keras layers (or other composites).

    Sublayers are created in `build`, once the input channel count is known, and are named
    ``f"{self.name}_{suffix}"`` so that a flattened model has globally unique layer names.
    """

    def __call__(self, *args, **kwargs):
        if getattr(_inline_state, "active", False):
            if not self.built:
                raise RuntimeError(f"Layer {self.name!r} must be built before it can be inlined.")
            kwargs.pop("training", None)  # sublayers read the training phase from the enclosing call
            return self.call(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    def sublayer_name(self, suffix):
        return f"{self.name}_{suffix}"


def apply_sequence(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def conv2d(filters, kernel_size, name, strides=1, groups=1, use_bias=False, zero_init=False):
    """A convolution padded like PyTorch: symmetric `kernel_size // 2` padding.

    TensorFlow's "same" pads a strided convolution only at the bottom/right, so strided convs get an
    explicit ZeroPadding2D and a "valid" conv. Stride-1 "same" is already symmetric for odd kernels.
    """
    conv_kwargs = dict(
        filters=filters,
        kernel_size=kernel_size,
        strides=strides,
        groups=groups,
        use_bias=use_bias,
        kernel_initializer="zeros" if zero_init else conv_initializer(),
        name=name,
    )
    return _pytorch_padded(keras.layers.Conv2D, kernel_size, strides, name, conv_kwargs)


def depthwise_conv2d(kernel_size, name, strides=1):
    """A depthwise convolution (one filter per channel, no bias) padded like PyTorch, as `conv2d`."""
    conv_kwargs = dict(
        kernel_size=kernel_size,
        strides=strides,
        use_bias=False,
        depthwise_initializer=conv_initializer(),  # fan_out = k*k, as timm's depthwise init
        name=name,
    )
    return _pytorch_padded(keras.layers.DepthwiseConv2D, kernel_size, strides, name, conv_kwargs)


def _pytorch_padded(conv_cls, kernel_size, strides, name, conv_kwargs):
    if kernel_size == 1:
        return [conv_cls(padding="valid", **conv_kwargs)]
    if strides == 1:
        return [conv_cls(padding="same", **conv_kwargs)]
    return [
        keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad"),
        conv_cls(padding="valid", **conv_kwargs),
    ]


def batch_norm(name, zero_gamma=False):
    return keras.layers.BatchNormalization(
        axis=-1,
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=name,
    )


def activation(kind, name):
    return keras.layers.Activation(kind, name=name)
