"""The `tfrecord:<dir>` source: `<dir>/<split>.tfrecord` or `<dir>/<split>.tfrecord.gz` in the CIFAR TFRecord format.

An optional `<dir>/info.json` (as written by make_sample.py) gives class names, counts and the image size.
Without it: num_classes is the argument or 10 (CIFAR-like); the image size is read from the first record;
examples are counted when the file is small enough to count in well under a second.
"""

import json
import os

import tensorflow as tf
from google.protobuf.message import DecodeError

from keras_resnets.data import records, validation
from keras_resnets.data.info import DatasetInfo

COUNT_LIMIT_BYTES = 256 * 2**20
DEFAULT_NUM_CLASSES = 10


def _read_info(directory):
    path = os.path.join(directory, "info.json")
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _records(path, compression):
    return tf.data.TFRecordDataset(path, compression, buffer_size=8 * 2**20)


def _unreadable(path, compression, readable, error):
    hint = " A GZIP-compressed file must be named <split>.tfrecord.gz." if compression is None else ""
    return (f"TFRecord file {path} is truncated or corrupt: {readable} record(s) read, then "
            f"{validation.first_line(error)}.{hint} Rewrite or replace the file.")


def _readable_from(records_dataset, start):
    """How many records after `start` read before the error (tf.data's error does not say)."""
    count = 0
    try:
        for _ in records_dataset.skip(start):
            count += 1
    except tf.errors.OpError:
        pass
    return count


def count_records(path, compression, limit=None):
    """The number of records in the file (at most `limit`); DataError naming where a bad file stops reading."""
    records_dataset = _records(path, compression)
    if limit is not None:
        records_dataset = records_dataset.take(limit)
    count = 0
    try:
        for batch in records_dataset.batch(validation.BATCH):
            count += int(batch.shape[0])
    except tf.errors.OpError as error:
        readable = count + _readable_from(records_dataset, count)
        raise validation.DataError(_unreadable(path, compression, readable, error)) from None
    return count


def _describe(kinds):
    return ", ".join(f"{name!r} ({kind})" for name, kind in sorted(kinds.items())) or "none"


def check_features(path, compression):
    """Raises DataError unless the first record is an Example with the features of records.FEATURES."""
    try:
        first = next(iter(_records(path, compression).take(1)), None)
    except tf.errors.OpError as error:
        raise validation.DataError(_unreadable(path, compression, 0, error)) from None
    if first is None:
        return
    try:
        kinds = records.feature_kinds(first.numpy())
    except DecodeError:
        raise validation.DataError(f"TFRecord file {path} does not hold tf.train.Example records (the first "
                                   "record does not parse as one).") from None
    if any(kinds.get(name) != kind for name, kind in records.EXPECTED_KINDS.items()):
        raise validation.DataError(
            f"Records in {path} have the features {_describe(kinds)}; expected {_describe(records.EXPECTED_KINDS)}: "
            "`image` the encoded JPEG or PNG bytes, `label` the class index.")


def _count(path, compression):
    if compression is None and tf.io.gfile.stat(path).length > COUNT_LIMIT_BYTES:
        return None
    if compression is not None and tf.io.gfile.stat(path).length > COUNT_LIMIT_BYTES // 4:
        return None
    return count_records(path, compression)


def _validate(path, compression, count, num_classes):
    validation.validate_examples(_records(path, compression).take(count), records.parse_example, count, lambda index: f"record {index}",
                                 f"TFRecord file {path}", num_classes)


def _parse_checked(path, num_classes):
    """records.parse_example, failing (with the file named) on a label outside [0, num_classes) in a split that
    was not validated beforehand: a one-hot row of zeros would train silently."""
    message = f"A label in {path} is outside [0, {num_classes}); labels must be class indices. Label:"

    def parse(record):
        image, label = records.parse_example(record)
        check = tf.debugging.Assert(tf.logical_and(label >= 0, label < num_classes), [message, label])
        with tf.control_dependencies([check]):
            return image, tf.identity(label)

    return parse


def _first_image_size(path, compression):
    try:
        for image, _ in _records(path, compression).take(1).map(records.parse_example):
            return image.shape[:2]
    except tf.errors.OpError as error:
        raise validation.DataError(f"TFRecord file {path}: record 0 cannot be decoded: "
                                   f"{validation.first_line(error)}.") from None
    return None


def load(directory, split, num_classes=None, name=None, *, take=None, validate=False):
    """(dataset of (uint8 image, int64 label), DatasetInfo) for one split of a TFRecord directory.

    `validate` ('auto', True, False; see keras_resnets.data.validation) checks the first `take` records (default:
    all) before returning.
    """
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
    validation.check_num_classes(num_classes, f"TFRecord directory {directory}")
    check_features(path, compression)
    count = meta.get("num_examples", {}).get(split)
    if count is None:
        count = _count(path, compression)
    used = count if take is None or count is None else min(take, count)
    if validation.should_validate(validate, used):
        _validate(path, compression, used if used is not None else count_records(path, compression, take),
                  num_classes)
    dataset = tf.data.TFRecordDataset(path, compression, num_parallel_reads=None)
    dataset = dataset.map(_parse_checked(path, num_classes), num_parallel_calls=tf.data.AUTOTUNE)
    image_size = meta.get("image_size")
    if image_size is None:
        image_size = _first_image_size(path, compression)
    info = DatasetInfo(
        name=name or meta.get("name") or os.path.basename(os.path.normpath(directory)),
        num_classes=num_classes,
        num_examples={**meta.get("num_examples", {}), split: count},
        image_size=tuple(int(s) for s in image_size) if image_size is not None else None,
        class_names=class_names,
    )
    return dataset, info
