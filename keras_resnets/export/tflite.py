"""Float TFLite conversion with built-in ops only, and running the result with LiteRT."""

import numpy as np
import tensorflow as tf


class FlexOpsError(ValueError):
    """The model needs TensorFlow (Flex) ops, which a phone's LiteRT runtime does not have."""


def to_tflite(model, batch_size=1):
    """Converts `model` (fixed input size) to a float32 `.tflite` flatbuffer using built-in ops only."""
    input_shape = tuple(model.inputs[0].shape[1:])
    if any(size is None for size in input_shape):
        raise ValueError(f"TFLite conversion needs a fixed input size; {model.name} has input shape {input_shape}.")
    signature = [tf.TensorSpec((batch_size, *input_shape), tf.float32, name="images")]
    forward = tf.function(lambda images: model(images, training=False), input_signature=signature)
    # No trackable argument: with one, the converter keeps resource variables (uninitialized in LiteRT)
    # instead of freezing the weights into constants.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except Exception as error:  # the converter reports unsupported ops as a generic ConverterError
        if "Flex" in str(error) or "not supported" in str(error) or "SELECT_TF_OPS" in str(error):
            raise FlexOpsError(f"{model.name} needs ops outside TFLite's built-in set: {error}") from error
        raise


def _interpreter(content, num_threads=1):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def operator_names(content):
    """The sorted set of operator names in a `.tflite` flatbuffer."""
    return sorted({op["op_name"] for op in _interpreter(content)._get_ops_details()})


def run_tflite(content, images):
    """Runs the flatbuffer on `images` one batch-1 invocation per image; returns the stacked outputs."""
    interpreter = _interpreter(content)
    (input_detail,) = interpreter.get_input_details()
    output_index = interpreter.get_output_details()[0]["index"]
    outputs = []
    for image in images:
        interpreter.set_tensor(input_detail["index"], np.asarray(image[None], dtype=input_detail["dtype"]))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(outputs)
