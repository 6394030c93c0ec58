"""Running a `.tflite` flatbuffer with LiteRT (ai_edge_litert): the interpreter, predictions in the Keras model's
units, the operators and their tensors, accuracy on a dataset, and the file's size raw and gzipped.

Quantized inputs are quantized with the input's scale and zero point and quantized outputs dequantized, so every
comparison with a Keras model is in that model's units. XNNPACK runs the operators unless `delegates=False`.
"""

import gzip

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def interpreter(content, num_threads=1, delegates=True):
    """A LiteRT interpreter, tensors allocated; `delegates=False` keeps XNNPACK from replacing the operators
    (to inspect them and their weights)."""
    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    runner = Interpreter(model_content=content, num_threads=num_threads, experimental_op_resolver_type=resolver)
    runner.allocate_tensors()
    return runner


def _quantize(images, detail):
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return images.astype(np.float32)
    scale, zero_point = detail["quantization"]
    values = images / scale + zero_point if scale else images  # scale 0: a plain (uint8 pixel) input
    info = np.iinfo(dtype)
    return np.clip(np.round(values), info.min, info.max).astype(dtype)


def _dequantize(values, detail):
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]) == np.float32 or not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale


def predict(content, images, num_threads=1):
    """The model's float outputs for float `images` (N, H, W, C), one batch-1 invoke per image."""
    runner = interpreter(content, num_threads)
    (input_detail,) = runner.get_input_details()
    output_detail = runner.get_output_details()[0]
    outputs = []
    for image in np.asarray(images, np.float32):
        runner.set_tensor(input_detail["index"], _quantize(image[None], input_detail))
        runner.invoke()
        outputs.append(_dequantize(runner.get_tensor(output_detail["index"])[0], output_detail))
    return np.stack(outputs)


def io_details(content):
    """dtype, shape and (scale, zero point) of the input and the output."""
    runner = interpreter(content)

    def describe(detail):
        return {"dtype": np.dtype(detail["dtype"]).name, "shape": [int(v) for v in detail["shape"]],
                "scale": float(detail["quantization"][0]), "zero_point": int(detail["quantization"][1])}

    return {"input": describe(runner.get_input_details()[0]), "output": describe(runner.get_output_details()[0])}


def operator_names(content):
    """The sorted set of operator names in a `.tflite` flatbuffer."""
    return sorted({op["op_name"] for op in interpreter(content)._get_ops_details()})


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


def file_sizes(content):
    """{"bytes", "gzip_bytes"}: the flatbuffer's size as it is and gzipped (level 9), which shows what pruning's
    zeros save on a download."""
    return {"bytes": len(content), "gzip_bytes": len(gzip.compress(content, compresslevel=9))}
