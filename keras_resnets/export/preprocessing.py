"""Folding input normalization into the model, so the `.tflite` takes raw RGB pixels (0..255).

MediaPipe's ImageClassifier feeds uint8 pixels, or float32 with one mean/std for all channels; per-channel
normalization therefore has to live inside the model. `with_preprocessing` prepends one Rescaling layer,
x * (scale / std) - mean / std per channel (a MUL and an ADD, or folded into the first conv by the converter),
and, for uint8 input, a CAST.
"""

import numpy as np

from keras_resnets.backend import keras
from keras_resnets.data.augment import NORMALIZATION

INPUT_DTYPES = ("float32", "uint8")


def normalization(preprocessing):
    """(mean, std) per channel in 0..255 units from a dataset name in NORMALIZATION, a recipe-style name
    (`cifar` means CIFAR-10) or a (mean, std) pair."""
    if isinstance(preprocessing, str):
        key = {"cifar": "cifar10"}.get(preprocessing, preprocessing)
        if key not in NORMALIZATION:
            raise ValueError(f"Unknown preprocessing {preprocessing!r}; allowed: {sorted(NORMALIZATION)}, 'cifar' "
                             f"or a (mean, std) pair of per-channel values in 0..255 units.")
        return NORMALIZATION[key]
    try:
        mean, std = preprocessing
        mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"preprocessing must be a dataset name or a (mean, std) pair; got {preprocessing!r}.") from None
    if mean.shape not in ((), (3,)) or std.shape not in ((), (3,)) or np.any(std <= 0):
        raise ValueError(f"preprocessing (mean, std) must be scalars or 3 per-channel values with std > 0; "
                         f"got {preprocessing!r}.")
    return tuple(np.broadcast_to(mean, (3,)).tolist()), tuple(np.broadcast_to(std, (3,)).tolist())


def with_preprocessing(model, mean, std, *, scale=1.0, input_dtype="float32", name=None):
    """A model taking raw pixels that computes `model((pixels * scale - mean) / std)`.

    Args:
        model: a Keras 3 or tf_keras model with a fixed (H, W, 3) input of normalized images.
        mean, std: per-channel (or scalar) statistics in the units of `pixels * scale` (0..255 for scale=1,
            as in keras_resnets.data.augment.NORMALIZATION).
        scale: multiplies the raw pixels first (1/255 if mean/std are in 0..1 units).
        input_dtype: `float32` or `uint8` (a CAST inside the model).
    """
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"Unknown input_dtype {input_dtype!r}; allowed: {list(INPUT_DTYPES)}.")
    mean, std = normalization((mean, std))
    channel_scale = [float(scale) / s for s in std]
    channel_offset = [-m / s for m, s in zip(mean, std)]
    pixels = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype=input_dtype, name="pixels")
    normalized = keras.layers.Rescaling(channel_scale, channel_offset, name="normalize")(pixels)
    return keras.Model(pixels, model(normalized), name=name or f"{model.name}_raw_pixels")
