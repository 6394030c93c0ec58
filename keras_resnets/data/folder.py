"""The `folder:<root>` source: images in `root/<split>/<class>/*.jpg|*.jpeg|*.png`.

Class names are the sorted union of the class folders of every split, so that labels agree between splits;
labels are their indices.
"""

import os

import tensorflow as tf

from keras_resnets.data import validation
from keras_resnets.data.info import DatasetInfo

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def _subdirectories(path):
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())


def _decode(path, label):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return image, label


def _validate(paths, labels, count, split_dir):
    elements = tf.data.Dataset.from_tensor_slices((paths[:count], tf.constant(labels[:count], tf.int64)))
    validation.validate_examples(elements, _decode, count, lambda index: paths[index],
                                 f"Image folder {split_dir}")


def load(root, split, *, take=None, validate=False):
    """(dataset of (uint8 image, int64 label), DatasetInfo) for one split of an image-folder tree.

    `validate` ('auto', True, False; see keras_resnets.data.validation) decodes the first `take` images (default:
    all) before returning, so that a corrupt one is named now rather than met, unnamed, during training.
    """
    if not os.path.isdir(root):
        raise ValueError(f"Data directory {root!r} does not exist (source 'folder:{root}').")
    split_dir = os.path.join(root, split)
    if not os.path.isdir(split_dir):
        raise ValueError(
            f"No folder for split {split!r} in {root!r}: expected {split_dir}/<class>/*.jpg. "
            f"Splits found there: {_subdirectories(root) or 'none'}.")
    class_names = sorted({name for s in _subdirectories(root) for name in _subdirectories(os.path.join(root, s))})
    paths, labels = [], []
    for label, class_name in enumerate(class_names):
        class_dir = os.path.join(split_dir, class_name)
        if not os.path.isdir(class_dir):
            continue
        for filename in sorted(os.listdir(class_dir)):
            if filename.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(class_dir, filename))
                labels.append(label)
    if not paths:
        raise ValueError(
            f"No images in {split_dir!r}: expected class folders holding "
            f"{', '.join('*' + e for e in IMAGE_EXTENSIONS)} files ({split_dir}/<class>/<image>).")
    validation.check_num_classes(len(class_names), f"Image folder {root} (class folders: {class_names})")
    used = len(paths) if take is None else min(take, len(paths))
    if validation.should_validate(validate, used):
        _validate(paths, labels, used, split_dir)
    dataset = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int64)))
    dataset = dataset.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
    info = DatasetInfo(
        name=os.path.basename(os.path.normpath(root)),
        num_classes=len(class_names),
        num_examples={split: len(paths)},
        image_size=None,
        class_names=class_names,
    )
    return dataset, info
