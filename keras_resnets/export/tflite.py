"""Float TFLite conversion with built-in ops only, and running the result with LiteRT.

`to_tflite` is the float32 case of `keras_resnets.export.convert` (all modes live in converter.py); the
interpreter helpers here run a flatbuffer as it is, with no quantization handling (see verify.py for that).
"""

import numpy as np


class FlexOpsError(ValueError):
    """The model needs TensorFlow (Flex) ops, which a phone's LiteRT runtime does not have.

    `ops` lists the TensorFlow op names the converter could not map to TFLite built-ins (empty if unknown).
    """

    def __init__(self, message, ops=()):
        super().__init__(message)
        self.ops = tuple(ops)


def to_tflite(model, batch_size=1):
    """Converts `model` (fixed input size) to a float32 `.tflite` flatbuffer using built-in ops only."""
    from keras_resnets.export.converter import convert

    return convert(model, "float32", batch_size=batch_size)


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
