"""Magnitude pruning (tfmot) in the tf_keras child: fine-tuned, stripped and converted to a full-int8 `.tflite`.

`run_prune` (the child's "prune" task; the Keras 3 entry point is launcher.prune_to_tflite): rebuild the flat
twin, load the weights, convert it as it is (the unpruned int8 baseline), wrap every Conv2D / DepthwiseConv2D /
Dense in `prune_low_magnitude` with a PolynomialDecay schedule to the target sparsity, fine-tune with
`UpdatePruningStep`, `strip_pruning`, convert to int8 with calibration (zero weights stay exactly zero under
symmetric per-channel int8), and count the zeros of every kernel in the flatbuffer.

Only those layers are wrapped (through `clone_model`), so the package's own primitives and the rest of the graph
stay as they are: `prune_low_magnitude` on the whole model rejects layers it does not know.
"""

import numpy as np
import tensorflow_model_optimization as tfmot

from keras_resnets.backend import keras
from keras_resnets.export.converter import convert_int8
from keras_resnets.export.litert import kernel_zeros
from keras_resnets.export.tfmot.finetune import apply_batch_norm_option, describe, fine_tune, start, write_tflite
from keras_resnets.export.verify import keras_accuracy

PRUNED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


def pruning_schedule(target_sparsity, steps):
    """PolynomialDecay from 0 to `target_sparsity`, reached at ~70% of the steps (the rest recovers accuracy).

    tfmot prunes only on steps where (step - begin) % frequency == 0 and step <= end, so end is a multiple of
    the frequency: the last mask update then lands exactly on the target.
    """
    if steps < 2:
        raise ValueError(f"Pruning needs at least 2 fine-tuning steps to reach its target sparsity; got {steps}.")
    end = max(1, int(round(0.7 * (steps - 1))))
    frequency = max(1, min(100, end // 10))
    end = frequency * (end // frequency)
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=float(target_sparsity), begin_step=0, end_step=end, frequency=frequency
    )


def prune_flat_model(flat, schedule):
    """`flat` (tf_keras) with its Conv2D / DepthwiseConv2D / Dense layers wrapped in `prune_low_magnitude`."""
    def wrap(layer):
        if type(layer).__name__ in PRUNED_LAYERS:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return keras.models.clone_model(flat, clone_function=wrap)


def strip(pruned):
    """`strip_pruning`, after applying the masks once more: the last optimizer step after the last mask update
    moved some masked weights off zero (tfmot re-applies the mask only at the next training call)."""
    for layer in pruned.layers:
        for weight, mask, _ in getattr(layer, "pruning_vars", ()):
            weight.assign(weight * mask)
    return tfmot.sparsity.keras.strip_pruning(pruned)


def kernel_sparsity(model):
    """{layer name: fraction of zeros} of the kernel of every Conv2D / DepthwiseConv2D / Dense layer."""
    sparsity = {}
    for layer in model.layers:
        if type(layer).__name__ in PRUNED_LAYERS:
            kernel = np.asarray(layer.weights[0].numpy())
            sparsity[layer.name] = float(np.mean(kernel == 0))
    return sparsity


def run_prune(request):
    """The tf_keras child's work: twin, weights, unpruned int8 baseline, prune + fine-tune, strip, convert."""
    run = start(request)
    options, report, target = run.options, run.report, request["target_sparsity"]
    report["target_sparsity"] = target
    schedule = pruning_schedule(target, run.steps)
    # Before pruning: the layers of `flat` are the ones that get pruned.
    report["unpruned"] = describe(convert_int8(run.flat, run.calibration, options.io_type), run.evaluation)
    pruned = prune_flat_model(run.flat, schedule)
    report["batch_norm_frozen"] = apply_batch_norm_option(pruned, options)
    fine_tune(run, pruned, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = strip(pruned)
    report["pruned_float_accuracy"] = keras_accuracy(stripped, run.evaluation)
    keras_sparsity = kernel_sparsity(stripped)
    content = convert_int8(stripped, run.calibration, options.io_type)
    zeros = kernel_zeros(content)
    total_zeros = sum(count for count, _ in zeros.values())
    total_size = sum(size for _, size in zeros.values())
    report["pruned"] = {
        **write_tflite(content, request["output"], run.evaluation),
        "keras_kernel_sparsity": keras_sparsity,
        "tflite_kernel_sparsity": {name: count / size for name, (count, size) in zeros.items()},
        "tflite_sparsity": total_zeros / total_size if total_size else 0.0,
    }
    return report
