"""The keras.applications contract shared by every builder: inputs, head, pooling, features and weights."""

from keras_resnets.backend import keras
from keras_resnets.weights import load_weights

POOLING_MODES = (None, "avg", "max")


def model_inputs(input_tensor, input_shape, default_size, min_size, include_top, name):
    """Validates `input_shape` and returns (input tensor of the graph, source inputs of the model)."""
    if input_tensor is not None:
        if input_shape is None:
            input_shape = tuple(input_tensor.shape[1:])
    elif input_shape is None:
        input_shape = (default_size, default_size, 3) if include_top else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape} for {name}.")
    if not all(size is None or (isinstance(size, int) and not isinstance(size, bool)) for size in input_shape):
        raise ValueError(f"input_shape must hold integers (or None for a free height/width), got {input_shape} "
                         f"for {name}.")
    height, width, channels = input_shape
    if channels is None or channels < 1:
        raise ValueError(f"input_shape {input_shape} for {name} needs a known channel count >= 1.")
    for size in (height, width):
        if size is not None and size < min_size:
            raise ValueError(
                f"input_shape {input_shape} is too small for {name}: the network downsamples by {min_size}, "
                f"so height and width must be at least {min_size}."
            )
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape, name="input")
        return inputs, inputs
    if not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(
            f"input_tensor must be a Keras tensor (from keras.Input or a layer), got {type(input_tensor).__name__}."
        )
    return input_tensor, keras.utils.get_source_inputs(input_tensor)


def validate_head_arguments(include_top, pooling, classes, name):
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ValueError(f"classes must be an integer >= 1 when include_top=True, got {classes!r} for {name}.")
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}.")


def classification_head(x, include_top, pooling, classes, classifier_activation, head_dropout_rate):
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if head_dropout_rate:
            x = keras.layers.Dropout(head_dropout_rate, name="head_dropout")(x)
        # float32 so that mixed-precision training keeps a float32 softmax / logits.
        return keras.layers.Dense(classes, activation=classifier_activation, dtype="float32", name="predictions")(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def finish_model(source_inputs, outputs, name, weights, timm_mapping=None):
    model = keras.Model(source_inputs, outputs, name=name)
    if weights is not None:
        load_weights(model, weights, timm_mapping=timm_mapping)
    return model
