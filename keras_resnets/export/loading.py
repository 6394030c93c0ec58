"""`load_model`: a Keras model from a model object, a registry name, a `.keras` file or `keras.applications.<Name>`."""

import os

from keras_resnets.backend import keras
from keras_resnets.models import create_model, list_models, model_info

APPLICATIONS_PREFIX = "keras.applications."


def is_keras_model(value):
    """True for Keras 3 and tf_keras models (duck-typed: both have `inputs` and are callable)."""
    return callable(value) and hasattr(value, "inputs") and hasattr(value, "layers")


def _size_pair(input_size):
    if input_size is None:
        return None
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise ValueError(f"input_size must be a positive int or a (height, width) pair of them; got {input_size!r}.")
    return size


def _from_applications(spec, size, overrides):
    name = spec[len(APPLICATIONS_PREFIX):]
    builder = getattr(keras.applications, name, None)
    if builder is None or not callable(builder):
        raise ValueError(f"Unknown model {spec!r}: keras.applications has no {name!r}.")
    height, width = size or (224, 224)
    return builder(weights=None, input_shape=(height, width, 3), **overrides)


def _from_file(path):
    if not os.path.isfile(path):
        raise ValueError(f"No such model file: {path!r}.")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # a corrupt or foreign file: one readable line instead of a deep traceback
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"Could not load the Keras model in {path!r}: {first_line}") from error


def load_model(model_or_name_or_path, input_size=None, **overrides):
    """The Keras model to convert.

    Args:
        model_or_name_or_path: a Keras 3 or tf_keras model (returned as is), a name from
            `keras_resnets.list_models()` (built at `input_size`, default its registry size), a path to a `.keras`
            file, or `keras.applications.<Name>` (built with weights=None at `input_size`, default 224).
        input_size: int or (height, width) for names; for a model or file it must match the model's fixed size.
        **overrides: builder arguments for names and keras.applications (e.g. `classes=10`,
            `classifier_activation=None`).
    """
    size = _size_pair(input_size)
    source = model_or_name_or_path
    if is_keras_model(source):
        model = source
    elif isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text.startswith(APPLICATIONS_PREFIX):
            return _from_applications(text, size, overrides)
        if text.endswith(".keras"):
            model = _from_file(text)
        elif text in list_models():
            default = model_info(text).input_size
            height, width = size or (default, default)
            return create_model(text, input_shape=(height, width, 3), **overrides)
        elif os.path.exists(text) or os.sep in text:
            raise ValueError(f"{text!r} is not a .keras file; convert takes a Keras model, a registry name "
                             f"(keras_resnets.list_models()), a path to a .keras file, or keras.applications.<Name>.")
        else:
            model_info(text)  # raises "Unknown model ..." with close matches
            raise AssertionError("unreachable")
    else:
        raise ValueError(f"Expected a Keras model, a registry name or a .keras path; got {type(source).__name__}.")
    if overrides:
        raise ValueError(f"Builder arguments {sorted(overrides)} only apply to registry names and keras.applications.")
    shape = tuple(model.inputs[0].shape[1:3])
    if size is not None and None not in shape and shape != size:
        raise ValueError(f"{model.name} has a fixed input size {shape}; input_size={size} differs. Rebuild the model "
                         f"at that size (registry names take input_size).")
    return model


def input_shape(model, input_size=None):
    """The (height, width, channels) the converted model takes: the model's own, with `input_size` filling None."""
    shape = tuple(model.inputs[0].shape[1:])
    size = _size_pair(input_size)
    if size is not None and len(shape) == 3:
        shape = (shape[0] or size[0], shape[1] or size[1], shape[2])
    if any(dim is None for dim in shape):
        raise ValueError(f"TFLite conversion needs a fixed input size; {model.name} has input shape {shape}. "
                         f"Pass input_size.")
    return shape
