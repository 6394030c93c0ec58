"""The TFRecord format of the project's CIFAR copies: a tf.train.Example with `image` (JPEG/PNG bytes) and `label` (int64).

Reading and writing live together so that the format is defined once.
"""

import os

import tensorflow as tf

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}
EXTENSIONS = {".tfrecord": None, ".tfrecord.gz": "GZIP"}
_KINDS = {tf.string: "bytes_list", tf.int64: "int64_list", tf.float32: "float_list"}
EXPECTED_KINDS = {name: _KINDS[feature.dtype] for name, feature in FEATURES.items()}


def find_split_file(directory, split):
    """The path and compression of `<split>.tfrecord` or `<split>.tfrecord.gz` in `directory`, or (None, None)."""
    for extension, compression in EXTENSIONS.items():
        path = os.path.join(directory, split + extension)
        if tf.io.gfile.exists(path):
            return path, compression
    return None, None


def list_splits(directory):
    """Split names that have a TFRecord file in `directory`, sorted."""
    names = set()
    for filename in tf.io.gfile.listdir(directory):
        for extension in EXTENSIONS:
            if filename.endswith(extension):
                names.add(filename[: -len(extension)])
    return sorted(names)


def parse_example(record):
    """One serialized Example -> (uint8 image HxWx3, int64 label)."""
    example = tf.io.parse_single_example(record, FEATURES)
    image = tf.io.decode_image(example["image"], channels=3, expand_animations=False)
    return image, example["label"]


def feature_kinds(record):
    """{feature name: 'bytes_list' | 'int64_list' | 'float_list'} of one serialized Example (DecodeError if it is none)."""
    example = tf.train.Example.FromString(record)
    return {name: feature.WhichOneof("kind") for name, feature in example.features.feature.items()}


def serialize_example(encoded_image, label):
    """Encoded image bytes and an integer label -> a serialized Example in the same format."""
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded_image])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_records(path, examples):
    """Write (encoded image bytes, label) pairs to `path`; a path ending in `.gz` is GZIP-compressed."""
    options = tf.io.TFRecordOptions(compression_type="GZIP") if path.endswith(".gz") else None
    count = 0
    with tf.io.TFRecordWriter(path, options) as writer:
        for encoded_image, label in examples:
            writer.write(serialize_example(encoded_image, label))
            count += 1
    return count
