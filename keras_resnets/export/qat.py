"""Quantization-aware training (tfmot, default 8-bit scheme) of a keras_resnets model, to a full-int8 `.tflite`.

Keras 3 side: `quantization_aware_training(model_or_path, output_path, options)` writes the flat weights and runs
the rest in a tf_keras child process (keras_resnets.export.legacy). tf_keras side (`run_qat`): rebuild the flat
twin, load the weights, `quantize_model` it with the package's primitives annotated, calibrate the activation
ranges on a few training batches, fine-tune, convert.

tfmot's default 8-bit scheme knows Conv2D, DepthwiseConv2D, Dense, Conv-BN(-ReLU) patterns (quantized after the BN,
which the converter folds), Activation/ReLU, Add, Concatenate, pooling, ZeroPadding2D, Dropout, and rejects every
other layer; `quantize_flat_model` covers the rest of the package's layers (SE's Multiply, standalone BN,
Res2Net's split, the pass-through primitives), so that every registered model quantizes.
"""

import contextlib
import json

def _report(result, report_path):
    if report_path:
        with open(report_path, "w") as file:
            json.dump(result, file, indent=2)
    return result


def quantization_aware_training(model, output_path, options=None, report_path=None, overrides=None,
                                ptq_baseline=True, timeout=None):
    """QAT-fine-tunes a keras_resnets model (Keras 3 model or `.keras` path) and writes a full-int8 `.tflite`.

    Args:
        model: a keras_resnets model, or the path of a `.keras` file from the training app.
        output_path: where the `.tflite` goes.
        options: FinetuneOptions (data, steps, learning rate, io_type).
        report_path: where the JSON report goes (optional); the report is also returned.
        overrides: builder overrides the model was created with (default: the training app's run.json beside
            the file, else none).
        ptq_baseline: also convert the float model with post-training quantization and evaluate it.
    Returns:
        The report: float, PTQ int8 and QAT int8 accuracy, operators, sizes raw and gzipped.
    Raises:
        ValueError: the model is not a keras_resnets model, or an option or data flag is wrong.
    """
    from keras_resnets.export.finetune import FinetuneOptions
    from keras_resnets.export.legacy import run_on_weights

    options = (options or FinetuneOptions()).validate()
    result = run_on_weights("qat", model, output_path, options, overrides, timeout, ptq_baseline=ptq_baseline)
    return _report(result, report_path)


# ----------------------------------------------------------------------------------------------- tf_keras side


def _noop_quantize_config():
    import tensorflow_model_optimization as tfmot

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

    return NoOpQuantizeConfig


FOLDED_INTO = ("Conv2D", "DepthwiseConv2D")


def _is_standalone_batch_norm(layer):
    """A BatchNormalization that does not follow a conv of its own (pre-activation blocks, ResNet-v2's last BN).

    tfmot knows BN only inside its Conv-BN patterns, where the converter folds it into the conv.
    """
    import tensorflow as tf

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
    import numpy as np

    from keras_resnets.backend import keras

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
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit.default_8bit_quantize_configs \
        import Default8BitOutputQuantizeConfig

    from keras_resnets.backend import keras
    from keras_resnets.layers import primitives, res2net

    quantization = tfmot.quantization.keras
    noop_config = _noop_quantize_config()
    pass_through = {"SubsampleZeroPad": primitives.SubsampleZeroPad, "SymmetricPadding2D": primitives.SymmetricPadding2D,
                    "DropPath": primitives.DropPath, "ChannelSplit": res2net.ChannelSplit}
    replaced_weights = {}

    def annotate(layer):
        kind = type(layer).__name__
        if kind in pass_through:
            return quantization.quantize_annotate_layer(layer, quantize_config=noop_config())
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
    scope = {**pass_through, "NoOpQuantizeConfig": noop_config,
             "Default8BitOutputQuantizeConfig": Default8BitOutputQuantizeConfig}
    with quantization.quantize_scope(scope):
        return quantization.quantize_apply(annotated)


RANGE_CALIBRATION_BATCHES = 8


@contextlib.contextmanager
def _moving_average_decay(decay):
    """Makes tfmot's activation quantizers (MovingAverageQuantizer, decay fixed at 0.999) use `decay()` instead."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

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
    import numpy as np

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
    from keras_resnets.export import int8
    from keras_resnets.export.finetune import FinetuneOptions, apply_batch_norm_option, datasets, fit, total_steps
    from keras_resnets.export.weights_io import build_flat_twin, load_flat_weights, read_flat_weights

    options = FinetuneOptions(**request["options"]).validate()
    _, spec = read_flat_weights(request["weights"])
    flat = build_flat_twin(spec)
    load_flat_weights(flat, request["weights"])
    train, evaluation, calibration, steps_per_epoch, info = datasets(options, spec["model"])
    check_classes(spec, info)
    report = {"model": spec["model"], "overrides": spec["overrides"], "dataset": options.dataset,
              "eval_split": options.eval_split, "io_type": options.io_type,
              "float_accuracy": int8.keras_accuracy(flat, evaluation)}
    if request.get("ptq_baseline", True):
        report["ptq"] = describe(int8.convert_int8(flat, calibration, options.io_type), evaluation)
    report["gammas_raised"] = nudge_zero_gammas(flat)
    quantized = quantize_flat_model(flat)
    report["batch_norm_frozen"] = apply_batch_norm_option(quantized, options)
    report["range_calibration"] = calibrate_activation_ranges(quantized, train)
    steps = total_steps(options, steps_per_epoch)
    from_logits = spec["overrides"].get("classifier_activation") is None
    report["history"] = fit(quantized, options, train, steps, steps_per_epoch, from_logits)
    report["steps"] = steps
    report["qat_keras_accuracy"] = int8.keras_accuracy(quantized, evaluation)
    content = int8.convert_int8(quantized, None, options.io_type)
    left_float = int8.float_operators(content)
    if left_float:
        raise ValueError(
            f"The QAT model did not convert to int8 only: {', '.join(left_float)} still compute in float, because "
            "some activation ranges learned during fine-tuning are empty (an untrained model, e.g. with its last "
            "BatchNorm gamma still zero). Start from a trained model or fine-tune for more steps."
        )
    with open(request["output"], "wb") as file:
        file.write(content)
    report["qat"] = {"path": request["output"], **describe(content, evaluation)}
    return report


def check_classes(spec, info):
    classes = spec.get("classes")
    if classes is not None and info.num_classes is not None and classes != info.num_classes:
        raise ValueError(
            f"The model has {classes} classes but the dataset {info.name!r} has {info.num_classes}: "
            "fine-tune on the dataset the model was trained on."
        )


def describe(content, evaluation):
    """Accuracy, operators, float-computing operators, raw and gzipped size of a flatbuffer."""
    from keras_resnets.export import int8

    return {
        "int8_accuracy": int8.tflite_accuracy(content, evaluation),
        "operators": sorted({name for name, _ in int8.operators(content)}),
        "float_operators": int8.float_operators(content),
        "bytes": len(content),
        "gzip_bytes": int8.gzip_size(content),
    }
