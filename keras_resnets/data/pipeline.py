"""`input_pipeline`: load -> (take) -> cache -> shuffle -> augment -> batch -> prefetch, for training or evaluation.

The dataset is one pass (one epoch), or with `repeat=True` an endless stream of epochs for the trainer. Decoded
images are cached in memory before augmentation when the split's size is known and fits under
`cache_limit_bytes` (CIFAR-size data), so decoding happens once and augmentation is fresh every epoch.
"""

import tensorflow as tf

from keras_resnets.checks import check_non_negative_int, check_positive_int
from keras_resnets.data import augment
from keras_resnets.data.sources import _image_size, load_split
from keras_resnets.image_transform import DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION

CACHE_LIMIT_BYTES = 2 * 2**30


def decoded_bytes(info, split):
    """Bytes the split's decoded uint8 images take, or None when the count or image size is unknown."""
    count = (info.num_examples or {}).get(split)
    if count is None or info.image_size is None:
        return None
    height, width = info.image_size
    return count * height * width * 3


def input_pipeline(source, split, batch_size, *, training, recipe="cifar", image_size=None, data_dir=None,
                   cache=True, shuffle_buffer=10_000, seed=None, drop_remainder=None, take=None,
                   num_classes=None, num_examples=None, pad_mode="zero", normalization=None,
                   cache_limit_bytes=CACHE_LIMIT_BYTES, repeat=False, start_batch=0, validate="auto",
                   crop_pct=DEFAULT_CROP_PCT, interpolation=DEFAULT_INTERPOLATION):
    """A batched dataset of (float32 images, int64 labels) and the source's DatasetInfo.

    Args:
        source, split, data_dir, num_classes, num_examples, validate: as in `load_split`.
        batch_size: examples per batch.
        training: shuffle and augment (True) or keep order and only normalize (False).
        recipe: `cifar`, `imagenet` or `none` (see keras_resnets.data.augment).
        image_size: output size. `imagenet`: the crop size (default 224). `cifar`/`none`: images are resized to it
            when given (default: the source's own size). `synthetic`: the generated size.
        cache: True caches decoded images in memory when they fit under `cache_limit_bytes`; a string caches to
            that file; False never caches.
        shuffle_buffer: examples in the shuffle buffer (training only; the synthetic stream is not shuffled).
        seed: makes shuffling and augmentation reproducible; None draws fresh randomness.
        drop_remainder: drop the last partial batch; default: True when training, False otherwise.
        take: use only the first `take` examples of the split (tests, short runs).
        pad_mode: `zero` or `reflect` padding of the cifar recipe.
        normalization: (mean, std) per channel in 0..255 units; default from the recipe and dataset name.
        crop_pct, interpolation: the `imagenet` evaluation's centre-crop fraction and resize interpolation
            (default timm's 0.875 and bilinear; a pretrained checkpoint's own from its config.json).

        repeat: an endless stream of epochs that starts from the same seeded state for every iterator made
            from it (tf.distribute's fit makes a throw-away iterator first; without this, the training order
            would depend on the strategy). With a seed, epoch `e` shuffles and augments with seeds made of
            (seed, e), so that the stream can start at any batch (`start_batch`).
        start_batch: with `repeat`, the stream starts at this batch of the stream that starts at 0: a run that
            resumes at step n sees what an uninterrupted run sees from step n. Whole epochs are not read;
            only the batches before it in its own epoch are. Exact with a seed for cached data; without a
            cache, the order of the source's files is not part of the epoch's seed.

    Returns:
        (dataset, info); info.num_examples[split] is the count after `take` where known.
    """
    augment.check_recipe(recipe)
    check_positive_int("batch_size", batch_size)
    check_positive_int("take", take, allow_none=True)
    check_positive_int("shuffle_buffer", shuffle_buffer)
    check_non_negative_int("start_batch", start_batch)
    if start_batch and not repeat:
        raise ValueError("start_batch needs repeat=True: only the endless training stream has positions.")
    if not isinstance(cache, (bool, str)):
        raise ValueError(f"cache must be True, False or a file path; got {cache!r}.")
    image_size = _image_size(image_size)
    crop = dict(crop_pct=crop_pct, interpolation=interpolation)
    load_size = image_size if (recipe != "imagenet" or source == "synthetic") else None
    dataset, info = load_split(source, split, data_dir, load_size, num_classes, num_examples=num_examples,
                               shuffle_files=training, seed=seed, take=take, validate=validate)
    if isinstance(cache, str):
        dataset = dataset.cache(cache)
    elif cache:
        size = decoded_bytes(info, split)
        if size is not None and size <= cache_limit_bytes:
            dataset = dataset.cache()
    if not repeat:
        return _shuffle_augment_batch(dataset, info, training, recipe, image_size, shuffle_buffer, seed, pad_mode,
                                      normalization, batch_size, drop_remainder, crop), info
    batches = _batches_per_epoch(info, split, batch_size, training if drop_remainder is None else drop_remainder)
    if batches == 0:
        raise ValueError(f"Split {split!r} has {info.num_examples[split]} examples, fewer than one batch of "
                         f"{batch_size}: an epoch would be empty. Use a smaller batch_size or more examples.")
    if start_batch and batches is None:
        raise ValueError(f"start_batch needs the size of split {split!r}, which is unknown.")
    first_epoch, skipped = divmod(start_batch, batches) if start_batch else (0, 0)

    def epoch_stream(epoch):
        # Built inside flat_map: every epoch (and every iterator) gets fresh random state from its own seed.
        epoch_seed = None
        if seed is not None:
            epoch_seed = tf.constant(seed, tf.int64) * EPOCH_SEED_STRIDE + epoch
            # tf.data merges an op seed with the graph's seed in Python, which fails for a tensor op seed when the
            # graph seed is 0 (keras.utils.set_random_seed(0)). The epoch seed already holds `seed`: this traced
            # function's graph needs no seed of its own (eager's global seed is left as it is).
            tf.random.set_seed(None)
        return _shuffle_augment_batch(dataset, info, training, recipe, image_size, shuffle_buffer, epoch_seed,
                                      pad_mode, normalization, batch_size, drop_remainder, crop)

    epochs = tf.data.Dataset.range(first_epoch, tf.int64.max)
    return epochs.flat_map(epoch_stream).skip(skipped).prefetch(tf.data.AUTOTUNE), info


EPOCH_SEED_STRIDE = 1_000_003  # epoch seeds (seed * stride + epoch) of different seeds do not meet


def _batches_per_epoch(info, split, batch_size, drop_remainder):
    count = (info.num_examples or {}).get(split)
    if count is None:
        return None
    return count // batch_size if drop_remainder else -(-count // batch_size)


def _shuffle_augment_batch(dataset, info, training, recipe, image_size, shuffle_buffer, seed, pad_mode,
                           normalization, batch_size, drop_remainder, crop):
    if training and info.name != "synthetic":
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    mean, std = normalization or augment.normalization_for(recipe, info.name)
    output_size = image_size if recipe == "imagenet" else (image_size or info.image_size)
    transform = augment.make_transform(recipe, training, output_size, mean, std, pad_mode, **crop)
    if training and recipe != "none":
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda example, example_seed: (transform(example[0], example_seed), example[1]),
            num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda image, label: (transform(image), label), num_parallel_calls=tf.data.AUTOTUNE)
    if drop_remainder is None:
        drop_remainder = training
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
