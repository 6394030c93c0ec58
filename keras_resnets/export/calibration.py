"""Real images through the package's input pipeline: labelled ones to verify a `.tflite`, and representative
data for full-integer quantization."""

import numpy as np
import tensorflow as tf

from keras_resnets.checks import check_positive_int
from keras_resnets.data import input_pipeline
from keras_resnets.image_transform import DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION

RAW = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # mean 0, std 1: the pipeline's normalization becomes the identity


def labelled_images(source, split, count, recipe, image_size, *, raw=False, data_dir=None, normalization=None,
                    crop_pct=DEFAULT_CROP_PCT, interpolation=DEFAULT_INTERPOLATION):
    """(images (N, H, W, 3) float32, labels (N,) int64, number of classes or None), first `count` of the split.
    `normalization` ((mean, std), 0..255 units; default the recipe's), `crop_pct` and `interpolation` (the imagenet
    recipe's) are the input pipeline's; a pretrained checkpoint gives its own."""
    dataset, info = input_pipeline(source, split, min(count, 256), training=False, recipe=recipe,
                                   image_size=image_size, take=count, data_dir=data_dir,
                                   normalization=RAW if raw else normalization, cache=False, crop_pct=crop_pct,
                                   interpolation=interpolation)
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(images), np.concatenate(labels), info.num_classes


def calibration_images(source, split="train", count=128, recipe="cifar", image_size=None, *, raw=False,
                       data_dir=None, count_name="count", **transform):
    """`count` float32 images (N, H, W, 3) of `split`, preprocessed for evaluation as `recipe` does.

    raw=True keeps pixel values 0..255 (resized/cropped as the recipe does), for models whose preprocessing is
    folded in (`with_preprocessing`). The first `count` examples are used, so calibration is reproducible.
    `count_name` is the name errors give `count` (a caller's own argument or flag name). `transform` takes
    labelled_images' normalization, crop_pct and interpolation.
    """
    check_positive_int(count_name, count)
    if raw and recipe == "none":
        raise ValueError("raw=True needs the cifar or imagenet recipe (recipe 'none' divides by 255).")
    images, _, _ = labelled_images(source, split, count, recipe, image_size, raw=raw, data_dir=data_dir, **transform)
    if len(images) < count:
        raise ValueError(f"{source!r} split {split!r} has only {len(images)} images; {count_name} asks for {count}.")
    return images


def _image_stream(calibration):
    """Yields single float32 images (H, W, C) from an array or a tf.data dataset of images or (images, labels)."""
    if isinstance(calibration, tf.data.Dataset):
        spec = calibration.element_spec
        dataset = calibration.map(lambda *element: element[0]) if isinstance(spec, tuple) else calibration
        if len(dataset.element_spec.shape) == 4:
            dataset = dataset.unbatch()
        return (np.asarray(image, np.float32) for image in dataset.as_numpy_iterator())
    array = np.asarray(calibration, np.float32)
    if array.ndim == 3:
        array = array[None]
    return iter(array)


def representative_dataset(calibration, input_shape, *, raw_pixels=False):
    """Checks `calibration` against the model input and returns the converter's representative_dataset callable.

    Raises ValueError for an empty set, images of the wrong shape, or (raw_pixels=True) images that look
    normalized rather than 0..255 pixels.
    """
    images = list(_image_stream(calibration))
    if not images:
        raise ValueError("Calibration data is empty; full int8 needs representative images.")
    not_finite = [index for index, image in enumerate(images) if not np.all(np.isfinite(image))]
    if not_finite:
        # The converter would take NaN ranges silently and write a file with float input and constant outputs.
        raise ValueError(f"Calibration images {not_finite[:5]}{' ...' if len(not_finite) > 5 else ''} "
                         f"({len(not_finite)} of {len(images)}) hold NaN or Inf values; every value must be finite.")
    shapes = {tuple(image.shape) for image in images}
    if shapes != {tuple(input_shape)}:
        raise ValueError(f"Calibration images have shape {sorted(shapes)[0] if len(shapes) == 1 else sorted(shapes)}; "
                         f"the model takes {tuple(input_shape)} (one image, without the batch dimension).")
    if raw_pixels and max(float(np.max(image)) for image in images) <= 5.0:
        raise ValueError("Calibration images look normalized (all values <= 5), but with preprocessing folded in the "
                         "model takes raw 0..255 pixels: use calibration_images(..., raw=True).")
    return lambda: ([image[None]] for image in images)
