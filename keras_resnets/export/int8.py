"""Full-int8 TFLite conversion for QAT and pruned models, and the checks the reports need.

Float models (pruned, or the unpruned baseline) go through the package's PTQ `convert`; QAT models through a
converter call of their own (a TF 2.21 converter bug, see `_convert_quantization_aware`). Both work on Keras 3
and tf_keras models. Checks read the flatbuffer through LiteRT: operator types, int8-only tensors, zeros per
kernel, accuracy on a dataset, raw and gzipped size.
"""

import gzip

import numpy as np
import tensorflow as tf

IO_TYPES = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def convert_int8(model, representative_images=None, io_type="int8"):
    """Converts `model` to a full-int8 flatbuffer (built-in int8 ops only).

    `representative_images` (single float32 images) calibrate a float model: post-training quantization through
    the package's `keras_resnets.export.convert(model, "int8", calibration=...)`. Without them the model must be
    quantization-aware (QAT, fake-quant ops carry the ranges): see `_convert_quantization_aware`. `io_type` is
    the input/output type: int8, uint8 or float32 (quantize/dequantize at the edges).
    """
    if io_type not in IO_TYPES:
        raise ValueError(f"io_type must be one of {sorted(IO_TYPES)}, got {io_type!r}.")
    if representative_images is None:
        return _convert_quantization_aware(model, io_type)
    from keras_resnets.export.converter import convert

    images = np.stack([np.asarray(image, np.float32) for image in representative_images])
    return convert(model, "int8", calibration=images, io_type=io_type)


def _convert_quantization_aware(model, io_type):
    """The converter call for a QAT model: no calibration, and no TFLITE_BUILTINS_INT8 in supported_ops.

    TF 2.21's converter checks "full int8 needs a representative dataset" in its conversion-metrics step, before
    it has looked at the graph for fake-quant ops, so naming TFLITE_BUILTINS_INT8 for a QAT model fails. With the
    default op set the fake-quant ranges still make every op int8; `float_operators` checks the result.
    """
    input_shape = tuple(model.inputs[0].shape[1:])
    if any(size is None for size in input_shape):
        raise ValueError(f"TFLite conversion needs a fixed input size; {model.name} has input shape {input_shape}.")
    signature = [tf.TensorSpec((1, *input_shape), tf.float32, name="images")]
    forward = tf.function(lambda images: model(images, training=False), input_signature=signature)
    # No trackable object: the converter then freezes the variables into constants (see export/tflite.py).
    converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = IO_TYPES[io_type]
    converter.inference_output_type = IO_TYPES[io_type]
    return converter.convert()


def interpreter(content, delegates=True):
    """A LiteRT interpreter; `delegates=False` keeps XNNPACK from replacing the operators (for inspection)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    runner = Interpreter(model_content=content, num_threads=1, experimental_op_resolver_type=resolver)
    runner.allocate_tensors()
    return runner


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


def _quantize(images, detail):
    if detail["dtype"] == np.float32:
        return images.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def tflite_accuracy(content, dataset):
    """Top-1 accuracy of the flatbuffer on a dataset of (float images, integer labels) batches."""
    runner = interpreter(content)
    (input_detail,) = runner.get_input_details()
    output_index = runner.get_output_details()[0]["index"]
    correct = total = 0
    for images, labels in dataset:
        images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
        for image, label in zip(_quantize(images, input_detail), labels):
            runner.set_tensor(input_detail["index"], image[None])
            runner.invoke()
            # argmax is unchanged by dequantization (a positive scale)
            correct += int(np.argmax(runner.get_tensor(output_index)[0]) == label)
            total += 1
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
