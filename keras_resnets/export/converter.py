"""`convert`: a Keras model (Keras 3 or tf_keras), registry name or `.keras` file to a `.tflite` flatbuffer.

Modes (post-training quantization with the TFLite converter; built-in ops only, never Flex):
    float32        no quantization
    float16        float16 weights, float32 compute on CPU (the GPU delegate runs them in fp16)
    dynamic_range  int8 weights, float activations quantized on the fly
    int8           full integer: int8 weights and activations, integer-only kernels (TFLITE_BUILTINS_INT8);
                   needs representative images, unless the model carries fake-quant nodes (QAT)

`to_tflite` is the float32 case; `convert_int8` the full-int8 case as QAT and pruning use it (calibration images,
or a quantization-aware model without them).

The conversion goes through a concrete function with no trackable object: with one, the converter keeps
resource variables, which LiteRT leaves uninitialized, instead of freezing the weights into constants.
"""

import re

import numpy as np
import tensorflow as tf

from keras_resnets.export.calibration import representative_dataset
from keras_resnets.export.loading import input_shape, load_model
from keras_resnets.export.preprocessing import normalization, with_preprocessing
from keras_resnets.export.litert import operator_names

MODES = ("float32", "float16", "dynamic_range", "int8")
IO_TYPES = ("float32", "uint8", "int8")
_TF_TYPES = {"float32": tf.float32, "uint8": tf.uint8, "int8": tf.int8}
_FAKE_QUANT = re.compile(r"^FakeQuantWithMinMax")


class FlexOpsError(ValueError):
    """The model needs TensorFlow (Flex) ops, which a phone's LiteRT runtime does not have.

    `ops` lists the TensorFlow op names the converter could not map to TFLite built-ins (empty if unknown).
    """

    def __init__(self, message, ops=()):
        super().__init__(message)
        self.ops = tuple(ops)


def check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"Unknown quantization mode {mode!r}; allowed: {list(MODES)}.")


def resolve_io_type(mode, io_type, folded):
    """The input/output type of a `mode` file for the `io_type` argument, or ValueError for a combination that
    cannot be honoured (never a silently different file)."""
    if io_type is None:
        return "int8" if mode == "int8" else "float32"
    if io_type not in IO_TYPES:
        raise ValueError(f"Unknown io_type {io_type!r}; allowed: {list(IO_TYPES)}.")
    if mode != "int8" and io_type == "int8":
        raise ValueError(f"io_type 'int8' needs mode 'int8'; mode {mode!r} takes float32 (or, with preprocessing "
                         f"folded in, uint8 pixels).")
    if mode != "int8" and io_type == "uint8" and not folded:
        raise ValueError(f"io_type 'uint8' with mode {mode!r} means raw uint8 pixels: fold the preprocessing in "
                         f"(preprocessing=...).")
    return io_type


def prepare_model(model_or_name_or_path, *, input_size=None, preprocessing=None, input_dtype="float32"):
    """The Keras model `convert` converts: loaded (see load_model), with the preprocessing folded in if given."""
    model = load_model(model_or_name_or_path, input_size)
    if preprocessing is not None:
        mean, std = normalization(preprocessing)
        model = with_preprocessing(model, mean, std, input_dtype=input_dtype)
    return model


def has_fake_quant(concrete_function):
    """True if the traced graph (or a function it calls) holds FakeQuantWithMinMax* ops, as QAT models do."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node) + [node for function in graph_def.library.function for node in function.node_def]
    return any(_FAKE_QUANT.match(node.op) for node in nodes)


def _concrete_function(model, shape, batch_size):
    dtype = tf.as_dtype(model.inputs[0].dtype or "float32")
    signature = [tf.TensorSpec((batch_size, *shape), dtype, name="images")]
    forward = tf.function(lambda images: model(images, training=False), input_signature=signature)
    return forward.get_concrete_function()


def unsupported_ops(message):
    """The TensorFlow op names a converter error says have no TFLite built-in (sorted, unique)."""
    names = set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message))
    for listed in re.findall(r"(?:Custom|Flex|Select TF) ops: ([\w.]+(?:, [\w.]+)*)", message):
        names.update(name.strip() for name in listed.split(","))
    names.update(re.findall(r"[Qq]uantization (?:is )?not (?:yet )?supported for op:? '?(?:tfl\.)?(\w+)", message))
    return sorted(names)


def _converter(concrete, mode, io_type, calibration, shape, quantization_aware, folded):
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic_range":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if calibration is not None:
            converter.representative_dataset = representative_dataset(calibration, shape, raw_pixels=folded)
        elif not quantization_aware:
            raise ValueError("Full int8 needs calibration data: pass calibration= (e.g. "
                             "keras_resnets.export.calibration_images('tfrecord:/path/to/cifar10', 'train', 128)), "
                             "or convert a quantization-aware (fake-quant) model.")
        if calibration is not None or not quantization_aware:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # A QAT graph carries its own ranges; the converter only accepts TFLITE_BUILTINS_INT8 with a
        # representative dataset, so it keeps TFLITE_BUILTINS and quantizes from the fake-quant nodes.
        converter.inference_input_type = converter.inference_output_type = _TF_TYPES[io_type]
    return converter


def convert(model_or_name_or_path, mode="float32", *, calibration=None, io_type=None, input_size=None, batch_size=1,
            preprocessing=None, quantization_aware=None):
    """Converts a model to a `.tflite` flatbuffer (bytes) with built-in ops only.

    Args:
        model_or_name_or_path: a Keras 3 or tf_keras model, a registry name, a `.keras` path or
            `keras.applications.<Name>` (see load_model).
        mode: one of MODES.
        calibration: int8 only: representative images as the converted model takes them (normalized, or raw
            0..255 pixels when `preprocessing` is given): an array (N, H, W, C) or a tf.data dataset of images or
            (images, labels), e.g. from `calibration_images`.
        io_type: `float32`, `uint8` or `int8`. Default: int8 for mode int8, else float32. For the float modes,
            uint8 means raw pixels (needs `preprocessing`).
        input_size: int or (height, width): the size to build a registry name at, or to fill a model's None dims.
        batch_size: the fixed batch dimension (1 for phones).
        preprocessing: fold input normalization into the model: a NORMALIZATION key (`cifar10`, `imagenet`, ...)
            or a (mean, std) pair in 0..255 units; the result then takes raw pixels.
        quantization_aware: int8 without calibration is allowed for models with fake-quant nodes; None detects
            them in the traced graph, True/False forces the answer.

    Raises:
        ValueError: unknown mode or io_type, missing or misshapen calibration data, bad model argument.
        FlexOpsError: the model needs ops outside TFLite's built-in (or, for int8, integer-only) set; `.ops`
            names them.
    """
    check_mode(mode)
    folded = preprocessing is not None
    io_type = resolve_io_type(mode, io_type, folded)
    input_dtype = "uint8" if (folded and io_type == "uint8" and mode != "int8") else "float32"
    model = prepare_model(model_or_name_or_path, input_size=input_size, preprocessing=preprocessing,
                          input_dtype=input_dtype)
    shape = input_shape(model, input_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    concrete = _concrete_function(model, shape, batch_size)
    if mode == "int8" and calibration is None and quantization_aware is None:
        quantization_aware = has_fake_quant(concrete)
    converter = _converter(concrete, mode, io_type, calibration, shape, quantization_aware, folded)
    try:
        content = converter.convert()
    except Exception as error:  # the converter reports unsupported ops as a generic ConverterError
        message = str(error)
        ops = unsupported_ops(message)
        if ops or "Flex" in message or "SELECT_TF_OPS" in message or "not supported" in message:
            allowed = "integer-only built-in" if mode == "int8" else "built-in"
            raise FlexOpsError(f"{model.name} needs ops outside TFLite's {allowed} set (mode {mode!r}): "
                               f"{', '.join(ops) or 'see the converter message'}. Replace them with ops that have "
                               f"TFLite built-ins; Flex (SELECT_TF_OPS) is not available on phones.", ops) from error
        first = next((line for line in message.splitlines() if "error:" in line), message.splitlines()[0])
        raise ValueError(f"TFLite conversion of {model.name} (mode {mode!r}) failed: {first.strip()}") from error
    flex = [name for name in operator_names(content) if name.startswith("Flex") or name == "CUSTOM"]
    if flex:
        raise FlexOpsError(f"{model.name} converted with non-built-in ops {flex}.", flex)
    return content


def to_tflite(model, batch_size=1):
    """Converts `model` (fixed input size) to a float32 `.tflite` flatbuffer using built-in ops only."""
    return convert(model, "float32", batch_size=batch_size)


def convert_int8(model, representative_images=None, io_type="int8"):
    """Converts `model` to a full-int8 flatbuffer (built-in int8 ops only).

    `representative_images` (single float32 images) calibrate a float model (post-training quantization).
    Without them the model must be quantization-aware (QAT: fake-quant ops carry the ranges). `io_type` is the
    input/output type: int8, uint8 or float32 (quantize/dequantize at the edges).
    """
    if representative_images is None:
        return convert(model, "int8", io_type=io_type, quantization_aware=True)
    images = np.stack([np.asarray(image, np.float32) for image in representative_images])
    return convert(model, "int8", calibration=images, io_type=io_type)
