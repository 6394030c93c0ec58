"""Any tensorflow-datasets image-classification set, read from prepared data only (nothing is downloaded).

`test` falls back to `validation` for datasets without a test split (imagenet2012, imagenette).
"""

import re

import tensorflow as tf

from keras_resnets.data.info import DatasetInfo

HOW_TO_PREPARE = (
    "Prepare it on a machine with internet access with `tfds build {name} --data_dir=DIR` (imagenet2012 needs "
    "the manual download of ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar into DIR/downloads/manual first) "
    "and copy DIR here, then pass data_dir=DIR.")


def _split_names(split):
    """Base split names in a tfds split expression: 'train[:10%]+validation' -> ['train', 'validation']."""
    return [re.sub(r"\[.*\]$", "", part.strip()) for part in split.split("+")]


def _resolve_split(split, available):
    if split == "test" and "test" not in available and "validation" in available:
        return "validation"
    for name in _split_names(split):
        if name not in available:
            raise ValueError(f"Unknown split {split!r}; this dataset has: {sorted(available)}.")
    return split


def load(name, split, data_dir=None, shuffle_files=False, seed=None, unknown_source_message=""):
    """(dataset of (uint8 image, int64 label), DatasetInfo) for one split of a prepared tfds dataset."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"Unknown dataset {name!r}. {unknown_source_message}") from None
    except (ValueError, AssertionError, TypeError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"Cannot open tensorflow-datasets dataset {name!r}: {reason} {unknown_source_message}") from None
    if not builder.is_prepared():
        where = data_dir or "the default tfds data_dir (~/tensorflow_datasets or $TFDS_DATA_DIR)"
        raise ValueError(
            f"Dataset {name!r} is not available in {where}: it has not been prepared there, and this library never "
            f"downloads. " + HOW_TO_PREPARE.format(name=name))
    info = builder.info
    if info.supervised_keys is None or len(info.supervised_keys) != 2:
        raise ValueError(f"Dataset {name!r} has no (image, label) supervised keys; it is not an image classification set.")
    image_key, label_key = info.supervised_keys
    image_feature, label_feature = info.features[image_key], info.features[label_key]
    if not isinstance(image_feature, tfds.features.Image) or not isinstance(label_feature, tfds.features.ClassLabel):
        raise ValueError(f"Dataset {name!r} is not an image classification set ({image_key}: {image_feature}, "
                         f"{label_key}: {label_feature}).")
    requested, split = split, _resolve_split(split, set(info.splits.keys()))
    read_config = tfds.ReadConfig(shuffle_seed=seed) if shuffle_files else None
    try:
        dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle_files,
                                     read_config=read_config)
    except (ValueError, AssertionError, KeyError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"Cannot read split {split!r} of {name!r}: {reason}") from None
    channels = image_feature.shape[-1]
    if channels == 1:
        dataset = dataset.map(lambda image, label: (tf.image.grayscale_to_rgb(image), label))
    elif channels not in (3, None):
        raise ValueError(f"Dataset {name!r} has {channels}-channel images; only 1 or 3 channels are supported.")
    height, width = image_feature.shape[:2]
    try:
        count = info.splits[split].num_examples
    except (KeyError, ValueError):
        count = None
    return dataset, DatasetInfo(
        name=info.name,
        num_classes=label_feature.num_classes,
        num_examples={requested: count},
        image_size=(height, width) if height is not None and width is not None else None,
        class_names=list(label_feature.names),
    )
