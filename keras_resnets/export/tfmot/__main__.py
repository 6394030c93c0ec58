"""The tf_keras child: ``python -m keras_resnets.export.tfmot request.json`` with ``TF_USE_LEGACY_KERAS=1``.

Reads the request the launcher wrote, runs its task from TASKS, and writes {"result": ...} or, for a ValueError
(the user's to fix), {"error": message} to the result path the request names.
"""

import json
import sys
import traceback

import numpy as np

from keras_resnets.backend import IS_LEGACY_KERAS
from keras_resnets.export.tfmot import launcher
from keras_resnets.export.tfmot.flat_weights import build_flat_twin, load_flat_weights, read_flat_weights
from keras_resnets.export.tfmot.prune import run_prune
from keras_resnets.export.tfmot.qat import run_qat


def run_predict(request):
    """The flat tf_keras twin's outputs on the images in request["images"] (.npy), saved to request["output"]."""
    _, spec = read_flat_weights(request["weights"])
    twin = build_flat_twin(spec)
    load_flat_weights(twin, request["weights"])
    outputs = np.asarray(twin(np.load(request["images"]), training=False))
    np.save(request["output"], outputs)
    return {"model": spec["model"], "layers": len(twin.layers)}


TASKS = {"qat": run_qat, "prune": run_prune, "predict": run_predict}
assert tuple(TASKS) == launcher.TASKS, "the launcher's task names and this table differ"


def main(argv):
    if not IS_LEGACY_KERAS:
        raise RuntimeError("keras_resnets.export.tfmot must run with TF_USE_LEGACY_KERAS=1.")
    with open(argv[1]) as file:
        envelope = json.load(file)
    try:
        result = {"result": TASKS[envelope["task"]](envelope["request"])}
        status = 0
    except ValueError as error:
        traceback.print_exc()
        result, status = {"error": str(error)}, 2
    with open(envelope["result"], "w") as file:
        json.dump(result, file, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
