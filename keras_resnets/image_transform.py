"""The evaluation transform a checkpoint was measured with, as Keras layers: raw RGB pixels in, model input out.

timm's eval transform resizes the shorter side to floor(size / crop_pct) with the checkpoint's interpolation,
center-crops `size`, divides by 255 and normalizes per channel with its mean/std. Here that is Keras' own
`Resizing` (cropping to the square's aspect ratio first, which crops the same centre as resizing the shorter
side and then cropping; antialiased, as PIL resizes), `CenterCrop` and one `Rescaling`, so the result is
serializable and can be the first layer of a model that takes 0..255 pixels of any size.

`resize_and_crop` is the same resize and crop in TensorFlow ops, for the input pipeline's imagenet evaluation
(keras_resnets.data.augment): tf.data also runs under tf_keras, whose `Resizing` cannot antialias.
"""

import math

import numpy as np

from keras_resnets.backend import keras

# timm's interpolation names -> Keras' (timm's "lanczos" is PIL's 3-lobe Lanczos).
INTERPOLATIONS = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest", "lanczos": "lanczos3",
                  "area": "area"}
# timm's defaults, and the input pipeline's without a checkpoint (256 pixels for a 224 crop).
DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION = 0.875, "bilinear"


def resize_size(size, crop_pct):
    """The size the image is resized to before the centre crop of `size` (timm: floor(size / crop_pct))."""
    return math.floor(size / crop_pct)


def preprocessing(config, weights="imagenet", name="preprocessing"):
    """A Keras layer (a `Sequential`) computing the eval transform of a checkpoint on [batch, H, W, 3] pixels.

    `config` is a `keras_resnets.pretrained.PretrainedConfig`, or a registered model name whose checkpoint
    `weights` ("imagenet" or "timm/<model>.<tag>") is read from the hub for its config.
    """
    config = _config(config, weights)
    check_interpolation(config.interpolation, f"The checkpoint {config.repo_id}")
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


def check_interpolation(interpolation, owner="The transform"):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{owner} uses interpolation {interpolation!r}; allowed: {sorted(INTERPOLATIONS)}.")


def resize_and_crop(image, size, crop_pct=DEFAULT_CROP_PCT, interpolation=DEFAULT_INTERPOLATION):
    """The resize and centre crop of `preprocessing` on one [H, W, 3] image tensor, in TensorFlow ops: the crop
    box of Keras' `Resizing(crop_to_aspect_ratio=True)`, its antialiased resize, then `CenterCrop`'s box.
    Returns float32 [height, width, 3] pixels (not normalized)."""
    import tensorflow as tf  # lazily: the package itself imports no TensorFlow under JAX or PyTorch

    check_interpolation(interpolation)
    height, width = size
    resized = (resize_size(height, crop_pct), resize_size(width, crop_pct))
    shape = tf.shape(image)
    crop_height = tf.clip_by_value(shape[1] * resized[0] // resized[1], 1, shape[0])
    crop_width = tf.clip_by_value(shape[0] * resized[1] // resized[0], 1, shape[1])
    top, left = (shape[0] - crop_height) // 2, (shape[1] - crop_width) // 2
    image = tf.cast(image[top:top + crop_height, left:left + crop_width], tf.float32)
    image = tf.image.resize(image, resized, method=INTERPOLATIONS[interpolation], antialias=True)
    top, left = (resized[0] - height) // 2, (resized[1] - width) // 2
    return tf.ensure_shape(image[top:top + height, left:left + width], (height, width, 3))


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
