"""The `tfrecord:<dir>` source: `<dir>/<split>.tfrecord` or `<dir>/<split>.tfrecord.gz` in the CIFAR TFRecord format.

An optional `<dir>/info.json` (as written by make_sample.py) gives class names, counts and the image size.
Without it: num_classes is the argument or 10 (CIFAR-like); the image size is read from the first record;
examples are counted when the file is small enough to count in well under a second.
"""

import json
import os

import tensorflow as tf

from keras_resnets.data import records
from keras_resnets.data.info import DatasetInfo

COUNT_LIMIT_BYTES = 256 * 2**20
DEFAULT_NUM_CLASSES = 10


def _read_info(directory):
    path = os.path.join(directory, "info.json")
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _count(path, compression):
    if compression is None and tf.io.gfile.stat(path).length > COUNT_LIMIT_BYTES:
        return None
    if compression is not None and tf.io.gfile.stat(path).length > COUNT_LIMIT_BYTES // 4:
        return None
    batches = tf.data.TFRecordDataset(path, compression, buffer_size=8 * 2**20).batch(4096)
    return int(batches.reduce(tf.constant(0, tf.int64), lambda count, batch: count + tf.size(batch, tf.int64)))


def load(directory, split, num_classes=None, name=None):
    """(dataset of (uint8 image, int64 label), DatasetInfo) for one split of a TFRecord directory."""
    if not tf.io.gfile.isdir(directory):
        raise ValueError(f"Data directory {directory!r} does not exist (source 'tfrecord:{directory}').")
    path, compression = records.find_split_file(directory, split)
    if path is None:
        found = records.list_splits(directory)
        raise ValueError(
            f"No file for split {split!r} in {directory!r}: expected {split}.tfrecord or {split}.tfrecord.gz. "
            f"Splits found there: {found or 'none'}.")
    meta = _read_info(directory)
    class_names = meta.get("class_names")
    num_classes = num_classes or (len(class_names) if class_names else DEFAULT_NUM_CLASSES)
    count = meta.get("num_examples", {}).get(split)
    if count is None:
        count = _count(path, compression)
    dataset = tf.data.TFRecordDataset(path, compression, num_parallel_reads=None)
    dataset = dataset.map(records.parse_example, num_parallel_calls=tf.data.AUTOTUNE)
    image_size = meta.get("image_size")
    if image_size is None:
        for image, _ in dataset.take(1):
            image_size = image.shape[:2]
    info = DatasetInfo(
        name=name or meta.get("name") or os.path.basename(os.path.normpath(directory)),
        num_classes=num_classes,
        num_examples={**meta.get("num_examples", {}), split: count},
        image_size=tuple(int(s) for s in image_size) if image_size is not None else None,
        class_names=class_names,
    )
    return dataset, info
