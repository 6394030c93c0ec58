"""Full-int8 TFLite conversion for QAT and pruned models, and the checks the reports need.

Both kinds go through the package's `convert`: float models (pruned, or the unpruned baseline) with calibration
images, QAT models without (their fake-quant nodes carry the ranges). Both work on Keras 3 and tf_keras models.
Checks read the flatbuffer through LiteRT: operator types, int8-only tensors, zeros per kernel, accuracy on a
dataset, raw and gzipped size.
"""

import gzip

import numpy as np

from keras_resnets.export.converter import IO_TYPES, convert
from keras_resnets.export.tflite import interpreter
from keras_resnets.export.verify import predict

KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def convert_int8(model, representative_images=None, io_type="int8"):
    """Converts `model` to a full-int8 flatbuffer (built-in int8 ops only).

    `representative_images` (single float32 images) calibrate a float model (post-training quantization).
    Without them the model must be quantization-aware (QAT: fake-quant ops carry the ranges). `io_type` is the
    input/output type: int8, uint8 or float32 (quantize/dequantize at the edges).
    """
    if io_type not in IO_TYPES:
        raise ValueError(f"io_type must be one of {sorted(IO_TYPES)}, got {io_type!r}.")
    if representative_images is None:
        return convert(model, "int8", io_type=io_type, quantization_aware=True)
    images = np.stack([np.asarray(image, np.float32) for image in representative_images])
    return convert(model, "int8", calibration=images, io_type=io_type)


def operators(content):
    """[(op name, [input tensor dtypes])] of every operator in the flatbuffer."""
    runner = interpreter(content, delegates=False)
    details = {detail["index"]: detail for detail in runner.get_tensor_details()}
    ops = []
    for op in runner._get_ops_details():
        dtypes = [np.dtype(details[index]["dtype"]).name for index in op["inputs"] if index >= 0 and index in details]
        ops.append((op["op_name"], dtypes))
    return ops


def float_operators(content):
    """Operators that compute in float (other than the QUANTIZE/DEQUANTIZE at float32 inputs/outputs)."""
    return sorted({
        name for name, dtypes in operators(content)
        if name not in ("QUANTIZE", "DEQUANTIZE") and any(dtype.startswith("float") for dtype in dtypes)
    })


def kernel_zeros(content):
    """{tensor name: (zeros, size)} of the weight (filter) tensor of every conv / fully-connected operator."""
    runner = interpreter(content, delegates=False)
    details = {detail["index"]: detail for detail in runner.get_tensor_details()}
    zeros = {}
    for op in runner._get_ops_details():
        if op["op_name"] not in KERNEL_OPS:
            continue
        detail = details[op["inputs"][1]]
        weights = runner.get_tensor(detail["index"])
        zeros[detail["name"]] = (int(np.count_nonzero(weights == 0)), int(weights.size))
    return zeros


def gzip_size(content):
    return len(gzip.compress(content, compresslevel=9))


def tflite_accuracy(content, dataset):
    """Top-1 accuracy of the flatbuffer on a dataset of (float images, integer labels) batches."""
    correct = total = 0
    for images, labels in dataset:
        labels = np.asarray(labels).reshape(-1)
        correct += int(np.sum(np.argmax(predict(content, np.asarray(images)), axis=-1) == labels))
        total += labels.size
    if not total:
        raise ValueError("The evaluation dataset is empty.")
    return correct / total


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
