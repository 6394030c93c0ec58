"""Model size and cost: parameters in the PyTorch convention and an analytic multiply-accumulate count."""

import math

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


def _layer_macs(layer, input_shape, output_shape):
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel_h, kernel_w = layer.kernel_size
        return math.prod(output_shape[1:]) * kernel_h * kernel_w
    if isinstance(layer, keras.layers.Conv2D):
        kernel_h, kernel_w = layer.kernel_size
        return math.prod(output_shape[1:]) * kernel_h * kernel_w * input_shape[-1] // layer.groups
    if isinstance(layer, keras.layers.Dense):
        return math.prod(output_shape[1:]) * input_shape[-1]
    return 0


def count_macs(model, input_shape=None):
    """Multiply-accumulates of conv and dense layers for one image (the papers' "FLOPs").

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
