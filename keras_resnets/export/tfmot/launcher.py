"""The Keras 3 side of QAT and pruning: write the model's flat weights, run the work in a tf_keras child process.

tensorflow-model-optimization only accepts tf_keras models, and a process picks its Keras once, when TensorFlow is
imported (keras_resnets/backend.py). So the Keras 3 side writes the model's flat weights (flat_weights) and a JSON
request, and runs ``python -m keras_resnets.export.tfmot request.json`` with ``TF_USE_LEGACY_KERAS=1``; the child
rebuilds the flat tf_keras twin, does the work, and writes a JSON result. A user's Keras 3 process never imports
tfmot. A ValueError in the child (bad data flag, bad model) comes back as a ValueError with the same message.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile

from keras_resnets.export.tfmot.flat_weights import save_model_weights
from keras_resnets.export.tfmot.options import FinetuneOptions

# The child's task table (keras_resnets/export/tfmot/__main__.py) has one entry per name.
TASKS = ("qat", "prune", "predict")


class TfKerasProcessError(RuntimeError):
    """The tf_keras child process failed with something other than a ValueError."""


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
    options = (options or FinetuneOptions()).validate()
    result = run_on_weights("qat", model, output_path, options, overrides, timeout, ptq_baseline=ptq_baseline)
    return _write_report(result, report_path)


def prune_to_tflite(model, output_path, options=None, target_sparsity=0.5, report_path=None, overrides=None,
                    timeout=None):
    """Prunes a keras_resnets model (Keras 3 model or `.keras` path) to `target_sparsity`, fine-tuning as it
    goes, and writes a full-int8 `.tflite` whose conv / dense kernels hold the zeros.

    Returns the report: float accuracy, unpruned and pruned int8 accuracy, sparsity per kernel (Keras and
    flatbuffer), sizes raw and gzipped. Raises ValueError when the model is not a keras_resnets model, an
    option is wrong, or training is too short to reach the target sparsity.
    """
    options = (options or FinetuneOptions()).validate()
    if not 0.0 < target_sparsity < 1.0:
        raise ValueError(f"target_sparsity must be in (0, 1), got {target_sparsity}.")
    result = run_on_weights(
        "prune", model, output_path, options, overrides, timeout, target_sparsity=float(target_sparsity)
    )
    return _write_report(result, report_path)


def _write_report(result, report_path):
    if report_path:
        with open(report_path, "w") as file:
            json.dump(result, file, indent=2)
    return result


def run_on_weights(task, model, output_path, options, overrides=None, timeout=None, **extra):
    """Saves `model`'s flat weights and runs `task` on them in the tf_keras child; returns its result."""
    with tempfile.TemporaryDirectory(prefix=f"keras_resnets_{task}_") as directory:
        weights = os.path.join(directory, "weights.npz")
        save_model_weights(model, weights, overrides)
        request = {
            "weights": weights,
            "output": os.path.abspath(output_path),
            "options": dataclasses.asdict(options),
            **extra,
        }
        return run_in_tf_keras(task, request, timeout=timeout)


def run_in_tf_keras(task, request, timeout=None):
    """Runs `task` (one of TASKS) with the JSON-able `request` in a TF_USE_LEGACY_KERAS=1 child process."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
    with tempfile.TemporaryDirectory(prefix="keras_resnets_tfkeras_") as directory:
        request_path = os.path.join(directory, "request.json")
        result_path = os.path.join(directory, "result.json")
        log_path = os.path.join(directory, "stderr.log")
        with open(request_path, "w") as file:
            json.dump({"task": task, "request": request, "result": result_path}, file)
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with open(log_path, "w") as log:
            completed = subprocess.run(
                [sys.executable, "-m", "keras_resnets.export.tfmot", request_path],
                env=env, stderr=log, timeout=timeout, check=False,
            )
        result = None
        if os.path.isfile(result_path):
            with open(result_path) as file:
                result = json.load(file)
        if result is not None and "error" in result:
            raise ValueError(result["error"])
        if completed.returncode != 0 or result is None:
            with open(log_path) as file:
                tail = file.read()[-4000:]
            raise TfKerasProcessError(
                f"The tf_keras process for {task!r} failed (exit status {completed.returncode}):\n{tail}"
            )
        return result["result"]
