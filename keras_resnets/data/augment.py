"""Augmentation and normalization recipes, as functions of one uint8 image (and a stateless seed when training).

    cifar     train: normalize, zero-pad 4 (or reflect), random crop back to size, random horizontal flip
              eval:  normalize
    imagenet  train: random-resized crop (scale 0.08-1, ratio 3/4-4/3) to size, random flip, normalize
              eval:  resize the shorter side to floor(size / crop_pct) (default crop 0.875: 256 for 224) with the
                     interpolation given (default bilinear; antialiased), center crop to size, normalize:
                     timm's eval transform, as keras_resnets.preprocessing builds it for a checkpoint
    none      cast to float32 / 255

Normalization is per channel with the dataset's mean and std (0..255 units) and lives in the input pipeline,
not in the model. Padding comes after normalization, so the zero padding is the mean colour, as in He et al.
2015 (they pad mean-subtracted images with zeros). All random ops are stateless: a training map takes a
per-example seed, so a seeded pipeline is reproducible.
"""

import tensorflow as tf

from keras_resnets.image_transform import DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION, check_interpolation, \
    resize_and_crop

# Per-channel RGB mean and std in 0..255 units.
NORMALIZATION = {
    "cifar10": ((125.307, 122.950, 113.865), (62.993, 62.089, 66.705)),
    "cifar100": ((129.304, 124.070, 112.434), (68.170, 65.392, 70.418)),
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
}
RECIPES = ("cifar", "imagenet", "none")
PAD_MODES = {"zero": "CONSTANT", "reflect": "REFLECT"}
IMAGENET_SIZE = 224
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def check_recipe(recipe):
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; allowed: {list(RECIPES)}.")


def normalization_for(recipe, dataset_name):
    """The (mean, std) a recipe uses for a dataset: ImageNet statistics for `imagenet`, CIFAR-100 or CIFAR-10 for `cifar`."""
    if recipe == "imagenet":
        return NORMALIZATION["imagenet"]
    return NORMALIZATION["cifar100" if "cifar100" in (dataset_name or "") else "cifar10"]


def normalize(image, mean, std):
    return (tf.cast(image, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def cifar_train(image, seed, size, mean, std, padding=4, pad_mode="zero"):
    """Normalize, pad `padding` pixels per side, random crop to `size`, random horizontal flip."""
    if pad_mode not in PAD_MODES:
        raise ValueError(f"Unknown pad_mode {pad_mode!r}; allowed: {list(PAD_MODES)}.")
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = normalize(image, mean, std)
    image = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]], mode=PAD_MODES[pad_mode])
    image = tf.image.stateless_random_crop(image, (*size, 3), crop_seed)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)


def cifar_eval(image, size, mean, std):
    return tf.ensure_shape(normalize(image, mean, std), (*size, 3))


def imagenet_train(image, seed, size, mean, std):
    """Random-resized crop (area 8-100 %, aspect 3/4-4/3, the whole image after 10 misses), resize, flip, normalize."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]), seed=crop_seed,
        min_object_covered=0.0, aspect_ratio_range=CROP_RATIO, area_range=CROP_SCALE, max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, crop_size)
    image = tf.image.resize(image, size, method="bilinear")
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    return normalize(image, mean, std)


def imagenet_eval(image, size, mean, std, crop_pct=DEFAULT_CROP_PCT, interpolation=DEFAULT_INTERPOLATION):
    """Resize the shorter side to floor(size / crop_pct) with `interpolation`, center crop to size, normalize."""
    return normalize(resize_and_crop(image, size, crop_pct, interpolation), mean, std)


def scale_only(image):
    return tf.cast(image, tf.float32) / 255.0


def make_transform(recipe, training, image_size, mean=None, std=None, pad_mode="zero", crop_pct=DEFAULT_CROP_PCT,
                   interpolation=DEFAULT_INTERPOLATION):
    """A function image -> float32 image (eval and `none`) or (image, seed) -> image (training with cifar/imagenet).
    `crop_pct` and `interpolation` are the imagenet evaluation's (a checkpoint's own, from its config.json)."""
    check_recipe(recipe)
    check_interpolation(interpolation)
    if not 0 < crop_pct <= 1:
        raise ValueError(f"crop_pct must be in (0, 1]; got {crop_pct!r}.")
    if recipe == "none":
        return scale_only
    if recipe == "cifar":
        if image_size is None:
            raise ValueError("The cifar recipe needs images of one size: pass image_size, or use a source that "
                             "knows its image size.")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"Unknown pad_mode {pad_mode!r}; allowed: {list(PAD_MODES)}.")
        if training:
            return lambda image, seed: cifar_train(image, seed, image_size, mean, std, pad_mode=pad_mode)
        return lambda image: cifar_eval(image, image_size, mean, std)
    size = image_size or (IMAGENET_SIZE, IMAGENET_SIZE)
    if training:
        return lambda image, seed: imagenet_train(image, seed, size, mean, std)
    return lambda image: imagenet_eval(image, size, mean, std, crop_pct, interpolation)
