"""Loading weights files into a built model: Keras formats, or timm `.safetensors` through a family mapping."""

import os

from keras_resnets.timm_weights import load_timm_state_dict, read_safetensors

KERAS_SUFFIXES = (".weights.h5", ".keras", ".h5")
TIMM_SUFFIX = ".safetensors"


def load_weights(model, path, timm_mapping=None):
    """Loads `path` into `model`, or raises one ValueError saying why the file does not fit."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"weights must be None or the path of an existing weights file; {path!r} does not exist."
        )
    if path.endswith(TIMM_SUFFIX):
        if timm_mapping is None:
            raise ValueError(f"{model.name} has no timm weight mapping; cannot load {path!r}.")
        return load_timm_state_dict(model, read_safetensors(path), timm_mapping)
    if not path.endswith(KERAS_SUFFIXES):
        allowed = ", ".join(KERAS_SUFFIXES + (TIMM_SUFFIX,))
        raise ValueError(f"Unsupported weights file {path!r}; allowed endings: {allowed}.")
    try:
        model.load_weights(path)
    except Exception as error:  # Keras raises several types; the user needs one message
        raise ValueError(f"Weights file {path!r} does not match the architecture of {model.name}: {error}") from error
    return model
