"""Model size and cost: parameters in the PyTorch convention and an analytic multiply-accumulate count."""

import contextlib
import math

import numpy as np

from keras_resnets.backend import keras
from keras_resnets.graph import flatten, nodes

BN_STATISTICS = ("moving_mean", "moving_variance")


def _variable_name(variable):
    return variable.name.split(":")[0].split("/")[-1]


def count_params(model):
    """Trainable-in-principle parameters: all weights except BatchNorm moving statistics (timm's count).

    Keras' `count_params()` also counts moving means and variances; PyTorch keeps them as buffers.
    """
    unique = {id(variable): variable for variable in model.weights}
    return sum(
        int(math.prod(variable.shape))
        for variable in unique.values()
        if _variable_name(variable) not in BN_STATISTICS
    )


def _kinds(*names):
    """The layer classes of these names that this Keras has (tf_keras lacks some)."""
    return tuple(getattr(keras.layers, name) for name in names if hasattr(keras.layers, name))


# Checked in this order: tf_keras derives DepthwiseConv2D and Conv2DTranspose from Conv2D.
DEPTHWISE = _kinds("DepthwiseConv1D", "DepthwiseConv2D")
SEPARABLE = _kinds("SeparableConv1D", "SeparableConv2D")
TRANSPOSED = _kinds("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
CONVOLUTIONS = _kinds("Conv1D", "Conv2D", "Conv3D")
DENSE = _kinds("Dense")
# Layers whose weights the papers' MAC counts leave out (normalization scales and shifts, lookups).
MAC_FREE = _kinds("BatchNormalization", "LayerNormalization", "GroupNormalization", "Embedding")
KNOWN = "Conv1D/2D/3D, depthwise, separable and transposed convolutions, Dense; BatchNorm and other normalizations"


def _positions_and_channels(shape, layer):
    """(spatial positions, channels) of a feature map's shape (with its batch axis)."""
    dims = shape[1:]
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return math.prod(dims[1:]), dims[0]
    return math.prod(dims[:-1]), dims[-1]


def _kernel_macs(layer, input_shape, output_shape):
    """Multiply-accumulates of one call of a layer with a kernel, or None for any other kind of layer."""
    if isinstance(layer, DENSE):
        return math.prod(output_shape[1:]) * input_shape[-1]
    if not isinstance(layer, DEPTHWISE + SEPARABLE + TRANSPOSED + CONVOLUTIONS):
        return None
    taps = math.prod(layer.kernel_size)
    in_positions, in_channels = _positions_and_channels(input_shape, layer)
    out_positions, out_channels = _positions_and_channels(output_shape, layer)
    if isinstance(layer, DEPTHWISE):
        return out_positions * out_channels * taps
    if isinstance(layer, SEPARABLE):
        depthwise_channels = in_channels * layer.depth_multiplier
        return out_positions * depthwise_channels * (taps + out_channels)
    if isinstance(layer, TRANSPOSED):
        return in_positions * in_channels * taps * out_channels  # every input pixel scatters a full kernel
    return out_positions * out_channels * taps * in_channels // getattr(layer, "groups", 1)


@contextlib.contextmanager
def _recorded_calls():
    """Records (layer, first input, output) of every Keras layer call made while active."""
    calls = []
    original = keras.layers.Layer.__call__

    def recording(layer, *args, **kwargs):
        outputs = original(layer, *args, **kwargs)
        calls.append((layer, args[0] if args else None, outputs))
        return outputs

    keras.layers.Layer.__call__ = recording
    try:
        yield calls
    finally:
        keras.layers.Layer.__call__ = original


def _shape(tensor):
    return tuple(tensor.shape) if hasattr(tensor, "shape") else None


def _nested_macs(layer, input_shape):
    """MACs of a layer with weights that is not a kind counted directly (a nested Sequential, a wrapper, a custom
    layer): it is called once on zeros and every layer call inside it is counted. Raises ValueError when some of
    its weights belong to no layer kind that can be counted."""
    with _recorded_calls() as calls:
        layer(np.zeros((1, *input_shape[1:]), "float32"))
    total, counted = 0, set()
    for inner, inputs, outputs in calls:
        macs = _kernel_macs(inner, _shape(inputs), _shape(outputs)) if inner is not layer else None
        if macs is not None or isinstance(inner, MAC_FREE):
            total += macs or 0
            counted.update(id(variable) for variable in inner.weights)
    uncounted = [_variable_name(variable) for variable in layer.weights if id(variable) not in counted]
    if uncounted:
        raise ValueError(f"count_macs cannot count layer {layer.name!r} ({type(layer).__name__}): its weights "
                         f"{uncounted[:5]} belong to no layer kind it knows ({KNOWN}).")
    return total


def _layer_macs(layer, input_shape, output_shape):
    macs = _kernel_macs(layer, input_shape, output_shape)
    if macs is not None:
        return macs
    if not layer.weights or isinstance(layer, MAC_FREE):
        return 0
    return _nested_macs(layer, input_shape)


def count_macs(model, input_shape=None):
    """Multiply-accumulates of the layers with a kernel, for one image (the papers' "FLOPs").

    Counts Conv1D/2D/3D (grouped too), depthwise, separable and transposed convolutions and Dense layers,
    wherever they are: in blocks, nested models or any layer that calls them. A layer with weights of any other
    kind (other than normalizations, which the papers leave out) raises ValueError rather than counting as 0.
    `input_shape` (height, width, channels) is required when the model's input size is not fixed.
    """
    flat = flatten(model, input_shape=input_shape)
    total = 0
    for layer, inputs, outputs in nodes(flat):
        in_shape, out_shape = tuple(inputs[0].shape), tuple(outputs[0].shape)
        if any(size is None for size in in_shape[1:] + out_shape[1:]):
            raise ValueError(
                f"count_macs needs a fixed input size; {model.name} has input shape "
                f"{tuple(model.inputs[0].shape)}. Pass input_shape=(height, width, channels)."
            )
        total += _layer_macs(layer, in_shape, out_shape)
    return total
