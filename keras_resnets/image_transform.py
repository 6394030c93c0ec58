"""The evaluation transform a checkpoint was measured with, as Keras layers: raw RGB pixels in, model input out.

timm's eval transform resizes the shorter side to floor(size / crop_pct) with the checkpoint's interpolation,
center-crops `size`, divides by 255 and normalizes per channel with its mean/std. Here that is Keras' own
`Resizing` (cropping to the square's aspect ratio first, which crops the same centre as resizing the shorter
side and then cropping; antialiased, as PIL resizes), `CenterCrop` and one `Rescaling`, so the result is
serializable and can be the first layer of a model that takes 0..255 pixels of any size.
"""

import math

import numpy as np

from keras_resnets.backend import keras

# timm's interpolation names -> Keras' (timm's "lanczos" is PIL's 3-lobe Lanczos).
INTERPOLATIONS = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest", "lanczos": "lanczos3",
                  "area": "area"}


def resize_size(size, crop_pct):
    """The size the image is resized to before the centre crop of `size` (timm: floor(size / crop_pct))."""
    return math.floor(size / crop_pct)


def preprocessing(config, weights="imagenet", name="preprocessing"):
    """A Keras layer (a `Sequential`) computing the eval transform of a checkpoint on [batch, H, W, 3] pixels.

    `config` is a `keras_resnets.pretrained.PretrainedConfig`, or a registered model name whose checkpoint
    `weights` ("imagenet" or "timm/<model>.<tag>") is read from the hub for its config.
    """
    config = _config(config, weights)
    if config.interpolation not in INTERPOLATIONS:
        raise ValueError(f"The checkpoint {config.repo_id} uses interpolation {config.interpolation!r}; "
                         f"allowed: {sorted(INTERPOLATIONS)}.")
    height, width = config.input_size
    mean, std = np.asarray(config.mean), np.asarray(config.std)
    return keras.Sequential([
        keras.layers.Resizing(resize_size(height, config.crop_pct), resize_size(width, config.crop_pct),
                              interpolation=INTERPOLATIONS[config.interpolation], crop_to_aspect_ratio=True,
                              antialias=True, name=f"{name}_resize"),
        keras.layers.CenterCrop(height, width, name=f"{name}_crop"),
        # (x / 255 - mean) / std as one multiply-add per channel
        keras.layers.Rescaling((1 / (255 * std)).tolist(), (-mean / std).tolist(), name=f"{name}_normalize"),
    ], name=name)


def preprocess(images, config, weights="imagenet"):
    """The eval transform applied to `images`: one [H, W, 3] array of 0..255 pixels, a batch of them, or a list
    of differently sized ones; returns a float32 batch [N, size, size, 3]."""
    layer = preprocessing(config, weights)
    if isinstance(images, (list, tuple)):
        return np.concatenate([preprocess_batch(layer, image) for image in images])
    return preprocess_batch(layer, images)


def preprocess_batch(layer, images):
    """`layer` (from `preprocessing`) on one image or a batch of equally sized ones."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [H, W, 3] RGB pixels or a batch of them; got shape {images.shape}.")
    return np.asarray(layer(images))


def _config(config, weights):
    from keras_resnets.pretrained import PretrainedConfig, pretrained_config

    if isinstance(config, PretrainedConfig):
        return config
    if isinstance(config, str):
        return pretrained_config(config, weights)
    raise ValueError(f"preprocessing needs a PretrainedConfig or a registered model name; got {config!r}.")
