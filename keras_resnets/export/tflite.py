"""Float TFLite conversion with built-in ops only, and running the result with LiteRT.

`to_tflite` is the float32 case of `keras_resnets.export.convert` (all modes live in converter.py); running a
flatbuffer on images, with its input quantization and output dequantization, is verify.predict.
"""


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


def interpreter(content, num_threads=1, delegates=True):
    """A LiteRT interpreter, tensors allocated; `delegates=False` keeps XNNPACK from replacing the operators
    (to inspect them and their weights)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    runner = Interpreter(model_content=content, num_threads=num_threads, experimental_op_resolver_type=resolver)
    runner.allocate_tensors()
    return runner


def operator_names(content):
    """The sorted set of operator names in a `.tflite` flatbuffer."""
    return sorted({op["op_name"] for op in interpreter(content)._get_ops_details()})
