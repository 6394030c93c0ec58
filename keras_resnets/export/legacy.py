"""Running tf_keras-only steps (tfmot's QAT and pruning) from a Keras 3 process, in a child process.

tensorflow-model-optimization only accepts tf_keras models, and a process picks its Keras once, when TensorFlow is
imported (keras_resnets/backend.py). So the Keras 3 side writes the model's flat weights (weights_io) and a JSON
request, and runs ``python -m keras_resnets.export.legacy request.json`` with ``TF_USE_LEGACY_KERAS=1``; the child
rebuilds the flat tf_keras twin, does the work, and writes a JSON result. A user's Keras 3 process never imports
tfmot. A ValueError in the child (bad data flag, bad model) comes back as a ValueError with the same message.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import traceback

TASKS = ("qat", "prune", "predict")


class LegacyProcessError(RuntimeError):
    """The tf_keras child process failed with something other than a ValueError."""


def run_on_weights(task, model, output_path, options, overrides=None, timeout=None, **extra):
    """Saves `model`'s flat weights and runs `task` on them in the tf_keras child; returns its result."""
    from keras_resnets.export.weights_io import save_model_weights

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
    """Runs `task` ("qat", "prune" or "predict") with the JSON-able `request` in a TF_USE_LEGACY_KERAS=1 child."""
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
                [sys.executable, "-m", "keras_resnets.export.legacy", request_path],
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
            raise LegacyProcessError(
                f"The tf_keras process for {task!r} failed (exit status {completed.returncode}):\n{tail}"
            )
        return result["result"]


def _predict(request):
    """The flat tf_keras twin's outputs on the images in request["images"] (.npy), saved to request["output"]."""
    import numpy as np

    from keras_resnets.export.weights_io import build_flat_twin, load_flat_weights, read_flat_weights

    _, spec = read_flat_weights(request["weights"])
    twin = build_flat_twin(spec)
    load_flat_weights(twin, request["weights"])
    outputs = np.asarray(twin(np.load(request["images"]), training=False))
    np.save(request["output"], outputs)
    return {"model": spec["model"], "layers": len(twin.layers)}


def _dispatch(task, request):
    from keras_resnets.backend import IS_LEGACY_KERAS

    if not IS_LEGACY_KERAS:
        raise RuntimeError("keras_resnets.export.legacy must run with TF_USE_LEGACY_KERAS=1.")
    if task == "qat":
        from keras_resnets.export.qat import run_qat

        return run_qat(request)
    if task == "prune":
        from keras_resnets.export.prune import run_prune

        return run_prune(request)
    return _predict(request)


def main(argv):
    with open(argv[1]) as file:
        envelope = json.load(file)
    try:
        result = {"result": _dispatch(envelope["task"], envelope["request"])}
        status = 0
    except ValueError as error:
        traceback.print_exc()
        result, status = {"error": str(error)}, 2
    with open(envelope["result"], "w") as file:
        json.dump(result, file, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
