"""Magnitude pruning (tfmot) of a keras_resnets model, fine-tuned, stripped and converted to a full-int8 `.tflite`.

Keras 3 side: `prune_to_tflite(model_or_path, output_path, options, target_sparsity)` writes the flat weights and
runs the rest in a tf_keras child process (keras_resnets.export.legacy). tf_keras side (`run_prune`): rebuild the
flat twin, load the weights, convert it as it is (the unpruned int8 baseline), wrap every Conv2D /
DepthwiseConv2D / Dense in `prune_low_magnitude` with a PolynomialDecay schedule to the target sparsity, fine-tune
with `UpdatePruningStep`, `strip_pruning`, convert to int8 with calibration (zero weights stay exactly zero under
symmetric per-channel int8), and count the zeros of every kernel in the flatbuffer.

Only those layers are wrapped (through `clone_model`), so the package's own primitives and the rest of the graph
stay as they are: `prune_low_magnitude` on the whole model rejects layers it does not know.
"""


PRUNED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


def prune_to_tflite(model, output_path, options=None, target_sparsity=0.5, report_path=None, overrides=None,
                    timeout=None):
    """Prunes a keras_resnets model (Keras 3 model or `.keras` path) to `target_sparsity`, fine-tuning as it
    goes, and writes a full-int8 `.tflite` whose conv / dense kernels hold the zeros.

    Returns the report: float accuracy, unpruned and pruned int8 accuracy, sparsity per kernel (Keras and
    flatbuffer), sizes raw and gzipped. Raises ValueError when the model is not a keras_resnets model, an
    option is wrong, or training is too short to reach the target sparsity.
    """
    from keras_resnets.export.finetune import FinetuneOptions
    from keras_resnets.export.legacy import run_on_weights
    from keras_resnets.export.qat import _report

    options = (options or FinetuneOptions()).validate()
    if not 0.0 < target_sparsity < 1.0:
        raise ValueError(f"target_sparsity must be in (0, 1), got {target_sparsity}.")
    result = run_on_weights(
        "prune", model, output_path, options, overrides, timeout, target_sparsity=float(target_sparsity)
    )
    return _report(result, report_path)


def pruning_schedule(target_sparsity, steps):
    """PolynomialDecay from 0 to `target_sparsity`, reached at ~70% of the steps (the rest recovers accuracy).

    tfmot prunes only on steps where (step - begin) % frequency == 0 and step <= end, so end is a multiple of
    the frequency: the last mask update then lands exactly on the target.
    """
    import tensorflow_model_optimization as tfmot

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
    import tensorflow_model_optimization as tfmot

    from keras_resnets.backend import keras

    def wrap(layer):
        if type(layer).__name__ in PRUNED_LAYERS:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return keras.models.clone_model(flat, clone_function=wrap)


def strip(pruned):
    """`strip_pruning`, after applying the masks once more: the last optimizer step after the last mask update
    moved some masked weights off zero (tfmot re-applies the mask only at the next training call)."""
    import tensorflow_model_optimization as tfmot

    for layer in pruned.layers:
        for weight, mask, _ in getattr(layer, "pruning_vars", ()):
            weight.assign(weight * mask)
    return tfmot.sparsity.keras.strip_pruning(pruned)


def kernel_sparsity(model):
    """{layer name: fraction of zeros} of the kernel of every Conv2D / DepthwiseConv2D / Dense layer."""
    import numpy as np

    sparsity = {}
    for layer in model.layers:
        if type(layer).__name__ in PRUNED_LAYERS:
            kernel = np.asarray(layer.weights[0].numpy())
            sparsity[layer.name] = float(np.mean(kernel == 0))
    return sparsity


def run_prune(request):
    """The tf_keras child's work: twin, weights, unpruned int8 baseline, prune + fine-tune, strip, convert."""
    import tensorflow_model_optimization as tfmot

    from keras_resnets.export import int8
    from keras_resnets.export.finetune import FinetuneOptions, apply_batch_norm_option, datasets, fit, total_steps
    from keras_resnets.export.qat import check_classes, describe
    from keras_resnets.export.weights_io import build_flat_twin, load_flat_weights, read_flat_weights

    options = FinetuneOptions(**request["options"]).validate()
    target = request["target_sparsity"]
    _, spec = read_flat_weights(request["weights"])
    flat = build_flat_twin(spec)
    load_flat_weights(flat, request["weights"])
    train, evaluation, calibration, steps_per_epoch, info = datasets(options, spec["model"])
    check_classes(spec, info)
    steps = total_steps(options, steps_per_epoch)
    schedule = pruning_schedule(target, steps)
    report = {"model": spec["model"], "overrides": spec["overrides"], "dataset": options.dataset,
              "eval_split": options.eval_split, "io_type": options.io_type, "target_sparsity": target,
              "float_accuracy": int8.keras_accuracy(flat, evaluation)}
    # Before pruning: the layers of `flat` are the ones that get pruned.
    report["unpruned"] = describe(int8.convert_int8(flat, calibration, options.io_type), evaluation)
    pruned = prune_flat_model(flat, schedule)
    report["batch_norm_frozen"] = apply_batch_norm_option(pruned, options)
    from_logits = spec["overrides"].get("classifier_activation") is None
    report["history"] = fit(pruned, options, train, steps, steps_per_epoch, from_logits,
                            callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    report["steps"] = steps
    stripped = strip(pruned)
    report["pruned_float_accuracy"] = int8.keras_accuracy(stripped, evaluation)
    keras_sparsity = kernel_sparsity(stripped)
    content = int8.convert_int8(stripped, calibration, options.io_type)
    with open(request["output"], "wb") as file:
        file.write(content)
    zeros = int8.kernel_zeros(content)
    total_zeros = sum(count for count, _ in zeros.values())
    total_size = sum(size for _, size in zeros.values())
    report["pruned"] = {
        "path": request["output"],
        **describe(content, evaluation),
        "keras_kernel_sparsity": keras_sparsity,
        "tflite_kernel_sparsity": {name: count / size for name, (count, size) in zeros.items()},
        "tflite_sparsity": total_zeros / total_size if total_size else 0.0,
    }
    return report
