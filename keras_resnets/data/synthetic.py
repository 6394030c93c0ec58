"""The `synthetic` source: random uint8 images and labels made inside the tf.data graph, for throughput runs.

Example i of a split is a pure function of (seed, split, i), so the stream is reproducible and needs no files.
"""

import zlib

import tensorflow as tf

from keras_resnets.data.info import DatasetInfo

DEFAULT_IMAGE_SIZE = (224, 224)
DEFAULT_NUM_CLASSES = 1000


def load(split, image_size=None, num_classes=None, num_examples=None, seed=0):
    """(dataset of (uint8 image, int64 label), DatasetInfo); endless unless `num_examples` is given."""
    height, width = image_size or DEFAULT_IMAGE_SIZE
    num_classes = num_classes or DEFAULT_NUM_CLASSES
    split_seed = zlib.crc32(split.encode()) % 2**31

    def make(index):
        image_seed = tf.stack([tf.constant(seed + split_seed, tf.int64), index])
        image = tf.random.stateless_uniform([height, width, 3], image_seed, minval=0, maxval=256, dtype=tf.int32)
        label = tf.random.stateless_uniform([], image_seed + 1, minval=0, maxval=num_classes, dtype=tf.int64)
        return tf.cast(image, tf.uint8), label

    indices = tf.data.Dataset.range(num_examples) if num_examples is not None else tf.data.Dataset.counter()
    dataset = indices.map(make, num_parallel_calls=tf.data.AUTOTUNE)
    info = DatasetInfo(
        name="synthetic",
        num_classes=num_classes,
        num_examples={split: num_examples},
        image_size=(height, width),
        class_names=None,
    )
    return dataset, info
