"""Checking a `.tflite` against its Keras model on real images, and its operators' GPU-delegate compatibility.

The flatbuffer runs through keras_resnets.export.litert (XNNPACK by default), in the Keras model's units.
"""

import re

import numpy as np
from tensorflow.lite.python import analyzer

from keras_resnets.export.litert import io_details, predict

_OP_LINE = re.compile(r"^\s*Op#(\d+) (\w+)\(")
_SUBGRAPH_LINE = re.compile(r"^Subgraph#(\d+) ")


def analyzer_report(content, gpu_compatibility=True):
    """The text tf.lite.experimental.Analyzer prints, returned instead of printed."""
    return analyzer._analyzer_wrapper.ModelAnalyzer(content, False, gpu_compatibility)  # what analyze() prints


def gpu_compatibility(content):
    """Each operator with its GPU-delegate compatibility, from the Analyzer's report.

    Returns {"compatible": bool, "ops": [{"index", "subgraph", "op", "gpu", "reason"}], "incompatible_ops": [...]}.
    """
    ops, subgraph = [], 0
    for line in analyzer_report(content).splitlines():
        if match := _SUBGRAPH_LINE.match(line):
            subgraph = int(match.group(1))
        elif match := _OP_LINE.match(line):
            ops.append({"subgraph": subgraph, "index": int(match.group(1)), "op": match.group(2), "gpu": True,
                        "reason": None})
        elif line.startswith("GPU COMPATIBILITY WARNING: ") and ops and ops[-1]["reason"] is None \
                and " has GPU delegate compatibility issues" not in line:
            ops[-1].update(gpu=False, reason=line.split(": ", 1)[1].strip())
    incompatible = sorted({op["op"] for op in ops if not op["gpu"]})
    return {"compatible": not incompatible, "ops": ops, "incompatible_ops": incompatible}


def op_counts(ops):
    """{op name: count} from gpu_compatibility()["ops"]."""
    counts = {}
    for op in ops:
        counts[op["op"]] = counts.get(op["op"], 0) + 1
    return dict(sorted(counts.items()))


def compare(actual, expected, labels=None):
    """Error and agreement statistics of TFLite outputs against Keras outputs (same images, same order)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    difference = np.abs(actual - expected)
    scale = float(np.max(np.abs(expected))) or 1.0
    result = {
        "images": int(len(expected)),
        "max_abs_error": float(difference.max()),
        "mean_abs_error": float(difference.mean()),
        "output_scale": scale,
        "max_rel_error": float(difference.max()) / scale,
        "mean_rel_error": float(difference.mean()) / scale,
        "top1_agreement": float(np.mean(actual.argmax(-1) == expected.argmax(-1))),
    }
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        result["accuracy"] = float(np.mean(actual.argmax(-1) == labels))
        result["keras_accuracy"] = float(np.mean(expected.argmax(-1) == labels))
    return result


def keras_outputs(model, images, batch_size=64):
    """Outputs of the Keras model in inference mode, in batches."""
    images = np.asarray(images, np.float32)
    return np.concatenate([np.asarray(model(images[i:i + batch_size], training=False))
                           for i in range(0, len(images), batch_size)])


def keras_accuracy(model, dataset):
    """Top-1 accuracy of a Keras (3 or tf_keras) model on (images, integer labels) batches."""
    correct = total = 0
    for images, labels in dataset:
        predictions = np.asarray(model(images, training=False))
        labels = np.asarray(labels).reshape(-1)
        correct += int(np.sum(np.argmax(predictions, axis=-1) == labels))
        total += labels.size
    if not total:
        raise ValueError("The evaluation dataset is empty.")
    return correct / total


def verify(content, model, images, labels=None, *, expected=None, num_threads=1):
    """A report on `content`: comparison with `model` (the Keras model it was converted from, taking `images`
    as they are), accuracy when `labels` are given, input/output quantization, and the op list with GPU
    compatibility. `expected` reuses already computed Keras outputs."""
    if expected is None:
        expected = keras_outputs(model, images)
    report = compare(predict(content, images, num_threads), expected, labels)
    gpu = gpu_compatibility(content)
    report.update(size_bytes=len(content), io=io_details(content), op_counts=op_counts(gpu["ops"]),
                  gpu_compatible=gpu["compatible"], gpu_incompatible_ops=gpu["incompatible_ops"])
    return report
