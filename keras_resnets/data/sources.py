"""`load_split`: one split of any supported source as a dataset of (uint8 image HxWx3, int64 label).

Source strings:
    sample            the CIFAR-10 sample shipped in the package (8,000 train / 1,000 test images)
    synthetic         random images made in-graph (image_size and num_classes from the arguments)
    tfrecord:<dir>    <dir>/<split>.tfrecord or <split>.tfrecord.gz in the CIFAR TFRecord format
    folder:<root>     images in <root>/<split>/<class>/*.jpg|*.jpeg|*.png
    <tfds name>       a prepared tensorflow-datasets image classification set (cifar10, imagenet2012, ...)
"""

import dataclasses
import os

import tensorflow as tf

from keras_resnets.data import folder, synthetic, tfds_source, tfrecord, validation

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample")
SAMPLE_SPLITS = ("train", "test")

SOURCES = {
    "sample": "the CIFAR-10 sample shipped with keras_resnets (splits train: 8,000, test: 1,000 images)",
    "synthetic": "random uint8 images made in-graph; image_size (default 224x224) and num_classes (default 1000)",
    "tfrecord:<dir>": "<dir>/<split>.tfrecord or <dir>/<split>.tfrecord.gz holding Examples with `image` "
                      "(encoded bytes) and `label` (int64)",
    "folder:<root>": "images in <root>/<split>/<class>/*.jpg|*.jpeg|*.png, labels by sorted class name",
    "<tfds name>": "a tensorflow-datasets image classification set prepared in data_dir "
                   "(cifar10, cifar100, imagenet2012, imagenette/320px, ...)",
}
ALLOWED = "Allowed sources: " + "; ".join(f"'{form}': {text}" for form, text in SOURCES.items()) + "."


def _resize(dataset, info, image_size):
    height, width = image_size

    def resize(image, label):
        resized = tf.image.resize(image, (height, width), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8), label

    if info.image_size is not None and tuple(info.image_size) == (height, width):
        return dataset.map(lambda image, label: (tf.ensure_shape(image, (height, width, 3)), label)), info
    return dataset.map(resize, num_parallel_calls=tf.data.AUTOTUNE), dataclasses.replace(info, image_size=(height, width))


def _image_size(value):
    if value is None:
        return None
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f"image_size must be a positive int or a (height, width) pair of them; got {value!r}.")
    return value


def load_split(source, split, data_dir=None, image_size=None, num_classes=None, *,
               num_examples=None, shuffle_files=False, seed=None, take=None, validate="auto"):
    """One split of `source` as (tf.data.Dataset of (uint8 image HxWx3, int64 label), DatasetInfo).

    Args:
        source: see SOURCES.
        split: split name (`train`, `test`, ...; tfds sources also take slices like `train[:10%]`; `test` means
            `validation` for tfds sets without a test split).
        data_dir: tfds data directory (tfds sources only).
        image_size: int or (height, width). For `synthetic` the generated size; for every other source the
            images are resized to it (antialiased bilinear), which mixed-size folders need before batching.
        num_classes: for `synthetic` (default 1000) and `tfrecord:` (default: info.json's class names, else 10).
        num_examples: `synthetic` only: a finite number of examples (default: endless).
        shuffle_files: tfds only: read the files in a seeded random order (for training).
        seed: seeds `synthetic` images and tfds file shuffling.
        take: use only the first `take` examples of the split; info.num_examples[split] is then the count after
            `take` where known.
        validate: check before returning that every example read, decodes and has a label in
            [0, num_classes), and raise one DataError naming the file (and image) otherwise: `auto` for
            `tfrecord:` and `folder:` splits of up to 100,000 examples (after `take`), True for any size, False
            never. Unchecked TFRecord splits still stop at the first label that is not a class index.
    """
    image_size = _image_size(image_size)
    validation.should_validate(validate, None)  # checks the argument
    if not isinstance(source, str) or not source:
        raise ValueError(f"Unknown source {source!r}. {ALLOWED}")
    if source == "sample":
        if split not in SAMPLE_SPLITS:
            raise ValueError(f"Unknown split {split!r} for source 'sample'; allowed: {list(SAMPLE_SPLITS)}.")
        dataset, info = tfrecord.load(SAMPLE_DIR, split)  # shipped and tested: never validated again
    elif source == "synthetic":
        return _take(*synthetic.load(split, image_size, num_classes, num_examples, seed or 0), split, take)
    elif source.startswith("tfrecord:"):
        dataset, info = tfrecord.load(os.path.expanduser(source[len("tfrecord:"):]), split, num_classes, take=take,
                                      validate=validate)
    elif source.startswith("folder:"):
        dataset, info = folder.load(os.path.expanduser(source[len("folder:"):]), split, take=take, validate=validate)
    else:
        dataset, info = tfds_source.load(source, split, data_dir, shuffle_files, seed, unknown_source_message=ALLOWED)
    dataset, info = _take(dataset, info, split, take)
    if image_size is not None:
        dataset, info = _resize(dataset, info, image_size)
    return dataset, info


def _take(dataset, info, split, take):
    if take is None:
        return dataset, info
    count = (info.num_examples or {}).get(split)
    return dataset.take(take), dataclasses.replace(
        info, num_examples={**(info.num_examples or {}), split: take if count is None else min(take, count)})
