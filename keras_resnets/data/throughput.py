"""How fast an input pipeline delivers images on its own, with no model attached."""

import time

import tensorflow as tf

from keras_resnets.checks import check_positive_int


def _batch_size(batch):
    images = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(tf.shape(images)[0])


def measure_pipeline(dataset, steps, warmup_steps=5):
    """Images per second over `steps` batches of `dataset` (repeated if it is shorter), after `warmup_steps`."""
    check_positive_int("steps", steps)
    iterator = iter(dataset.repeat())
    for _ in range(warmup_steps):
        next(iterator)
    images = 0
    start = time.perf_counter()
    for _ in range(steps):
        images += _batch_size(next(iterator))
    return images / (time.perf_counter() - start)
