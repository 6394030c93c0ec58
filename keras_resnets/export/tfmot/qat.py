"""Quantization-aware training (tfmot, default 8-bit scheme) in the tf_keras child, to a full-int8 `.tflite`.

`run_qat` (the child's "qat" task; the Keras 3 entry point is launcher.quantization_aware_training): rebuild the
flat twin, load the weights, `quantize_model` it with the package's primitives annotated, calibrate the activation
ranges on a few training batches, fine-tune, convert.

tfmot's default 8-bit scheme knows Conv2D, DepthwiseConv2D, Dense, Conv-BN(-ReLU) patterns (quantized after the BN,
which the converter folds), Activation/ReLU, Add, Concatenate, pooling, ZeroPadding2D, Dropout, and rejects every
other layer; `quantize_flat_model` covers the rest of the package's layers (SE's Multiply, standalone BN,
Res2Net's split, the pass-through primitives), so that every registered model quantizes.
"""

import contextlib

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras import quant_ops
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit.default_8bit_quantize_configs import \
    Default8BitOutputQuantizeConfig

from keras_resnets.backend import keras
from keras_resnets.export.converter import convert_int8
from keras_resnets.export.litert import float_operators
from keras_resnets.export.tfmot.finetune import apply_batch_norm_option, describe, fine_tune, start, write_tflite
from keras_resnets.export.verify import keras_accuracy
from keras_resnets.layers import primitives, res2net


class NoOpQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """No quantizers: the layer's output keeps its input's quantization (pads, slices, identity)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


FOLDED_INTO = ("Conv2D", "DepthwiseConv2D")


def _is_standalone_batch_norm(layer):
    """A BatchNormalization that does not follow a conv of its own (pre-activation blocks, ResNet-v2's last BN).

    tfmot knows BN only inside its Conv-BN patterns, where the converter folds it into the conv.
    """
    if type(layer).__name__ != "BatchNormalization":
        return False
    sources = [source for node in layer.inbound_nodes for source in tf.nest.flatten(node.inbound_layers)]
    # The pattern needs the conv's output to go to this BN only (a pre-activation stem conv also feeds a shortcut).
    return not all(type(source).__name__ in FOLDED_INTO and len(source.outbound_nodes) == 1 for source in sources)


def _batch_norm_as_depthwise(layer):
    """A 1x1 DepthwiseConv2D with bias computing `layer`'s inference-mode affine, and its weights.

    A standalone BN converts to a float MUL and ADD whose intermediate tensor no fake-quant covers, so both
    would stay float; as a depthwise conv it is one int8 DEPTHWISE_CONV_2D whose per-channel weight scale holds
    each channel's factor exactly. Fine-tuning then trains the affine with the statistics fixed.
    """
    channels = layer.moving_mean.shape[0]
    gamma = layer.gamma.numpy() if layer.scale else np.ones(channels, "float32")
    beta = layer.beta.numpy() if layer.center else np.zeros(channels, "float32")
    factor = gamma / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
    weights = [factor.reshape(1, 1, channels, 1), beta - layer.moving_mean.numpy() * factor]
    return keras.layers.DepthwiseConv2D(1, use_bias=True, name=layer.name), weights


def quantize_flat_model(flat):
    """`tfmot.quantization.keras.quantize_model` for a flat tf_keras keras_resnets model.

    tfmot's default 8-bit config covers convs, Conv-BN patterns, activations, Add, Concatenate, pooling and
    padding. Beyond it: the package's pass-through primitives get a config that adds no quantizer, Multiply
    (squeeze-excitation's gate) gets its output quantized, and a standalone BatchNormalization becomes a 1x1
    depthwise conv (`_batch_norm_as_depthwise`). Any other unknown layer gets tfmot's error naming it.
    """
    quantization = tfmot.quantization.keras
    pass_through = {"SubsampleZeroPad": primitives.SubsampleZeroPad, "SymmetricPadding2D": primitives.SymmetricPadding2D,
                    "DropPath": primitives.DropPath, "ChannelSplit": res2net.ChannelSplit}
    replaced_weights = {}

    def annotate(layer):
        kind = type(layer).__name__
        if kind in pass_through:
            return quantization.quantize_annotate_layer(layer, quantize_config=NoOpQuantizeConfig())
        if kind == "Multiply":
            return quantization.quantize_annotate_layer(layer, quantize_config=Default8BitOutputQuantizeConfig())
        if _is_standalone_batch_norm(layer):
            replacement, replaced_weights[layer.name] = _batch_norm_as_depthwise(layer)
            return replacement
        return layer

    annotated = keras.models.clone_model(flat, clone_function=annotate)
    for name, weights in replaced_weights.items():
        annotated.get_layer(name).set_weights(weights)
    annotated = quantization.quantize_annotate_model(annotated)
    scope = {**pass_through, "NoOpQuantizeConfig": NoOpQuantizeConfig,
             "Default8BitOutputQuantizeConfig": Default8BitOutputQuantizeConfig}
    with quantization.quantize_scope(scope):
        return quantization.quantize_apply(annotated)


RANGE_CALIBRATION_BATCHES = 8


@contextlib.contextmanager
def _moving_average_decay(decay):
    """Makes tfmot's activation quantizers (MovingAverageQuantizer, decay fixed at 0.999) use `decay()` instead."""
    original = quant_ops.MovingAvgQuantize
    calls = []

    def with_decay(*args, **kwargs):
        calls.append(1)
        return original(*args, **{**kwargs, "ema_decay": decay()})

    quant_ops.MovingAvgQuantize = with_decay
    try:
        yield calls
    finally:
        quant_ops.MovingAvgQuantize = original


def calibrate_activation_ranges(quantized, train, batches=RANGE_CALIBRATION_BATCHES):
    """Sets every activation range of a freshly quantized model to its mean over `batches` training batches.

    tfmot starts each range at [-6, 6] and moves it by an exponential moving average with decay 0.999: after one
    epoch of CIFAR-10 (390 steps) a range is still two thirds [-6, 6], so a ReLU output wastes half of its 256
    levels on negative values and a wider one is clipped at 6. Running the first batches eagerly in training mode
    with decay (t - 1) / t at batch t leaves each range at the mean of the batch ranges, and each layer sees its
    inputs quantized with their calibrated ranges. Fine-tuning then continues with tfmot's decay.
    Returns the number of activation quantizers and of batches used.
    """
    step = 0
    with _moving_average_decay(lambda: (step - 1) / step) as calls:
        for images, _ in train.take(batches):
            step += 1
            quantized(images, training=True)
    return {"quantizers": len(calls) // max(step, 1), "batches": step}


GAMMA_FLOOR = 1e-3


def nudge_zero_gammas(flat, floor=GAMMA_FLOOR):
    """Raises every BatchNorm |gamma| below `floor` to `floor` (sign kept); returns how many were raised.

    The converter folds a BN into the preceding conv's kernel and scales that channel's int8 weight scale by
    gamma / sqrt(var + eps): a gamma of exactly 0 (a dead channel of a trained model, or a zero-initialized last
    BN) gives a zero scale, which the converter rejects ("scale out of expressed type range") and then leaves
    the whole conv in float. A gamma of 1e-3 changes the channel's output by 1e-3 of its normalized value.
    """
    raised = 0
    for layer in flat.layers:
        if type(layer).__name__ != "BatchNormalization" or not layer.scale:
            continue
        gamma = layer.gamma.numpy()
        small = np.abs(gamma) < floor
        if small.any():
            layer.gamma.assign(np.where(small, np.where(gamma < 0, -floor, floor), gamma).astype(gamma.dtype))
            raised += int(small.sum())
    return raised


def run_qat(request):
    """The tf_keras child's work: twin, weights, PTQ baseline, quantize, fine-tune, convert, evaluate."""
    run = start(request)
    options, flat, report = run.options, run.flat, run.report
    if request.get("ptq_baseline", True):
        report["ptq"] = describe(convert_int8(flat, run.calibration, options.io_type), run.evaluation)
    report["gammas_raised"] = nudge_zero_gammas(flat)
    quantized = quantize_flat_model(flat)
    report["batch_norm_frozen"] = apply_batch_norm_option(quantized, options)
    report["range_calibration"] = calibrate_activation_ranges(quantized, run.train)
    fine_tune(run, quantized)
    report["qat_keras_accuracy"] = keras_accuracy(quantized, run.evaluation)
    content = convert_int8(quantized, None, options.io_type)
    left_float = float_operators(content)
    if left_float:
        raise ValueError(
            f"The QAT model did not convert to int8 only: {', '.join(left_float)} still compute in float, because "
            "some activation ranges learned during fine-tuning are empty (an untrained model, e.g. with its last "
            "BatchNorm gamma still zero). Start from a trained model or fine-tune for more steps."
        )
    report["qat"] = write_tflite(content, request["output"], run.evaluation)
    return report
