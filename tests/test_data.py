"""keras_resnets.data: every source, the shipped sample, the recipes, reproducibility and every error."""

import collections
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_resnets.data import DatasetInfo, SOURCES, input_pipeline, load_split, measure_pipeline
from keras_resnets.data import make_sample, records

# The full CIFAR-10 TFRecords, where a machine has them (CIFAR10_DIR; default: beside the repository).
SHARED_CIFAR10 = os.environ.get(
    "CIFAR10_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "cifar10")
)
CLASSES = ["cat", "dog", "frog"]


def _png(rng, height, width):
    return tf.io.encode_png(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).numpy()


@pytest.fixture(scope="module")
def tiny_tfrecord(tmp_path_factory):
    """A TFRecord directory in the CIFAR format: train (12 examples, plain) and test (6, gzipped)."""
    directory = tmp_path_factory.mktemp("tfrecord")
    rng = np.random.default_rng(0)
    records.write_records(str(directory / "train.tfrecord"), [(_png(rng, 32, 32), i % 3) for i in range(12)])
    records.write_records(str(directory / "test.tfrecord.gz"), [(_png(rng, 32, 32), i % 3) for i in range(6)])
    return directory


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """root/<split>/<class>/*.png|jpg with images of mixed sizes; `test` lacks the `frog` class."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(1)
    for split, classes in (("train", CLASSES), ("test", CLASSES[:2])):
        for name in classes:
            os.makedirs(root / split / name)
            for i, (height, width) in enumerate([(40, 48), (36, 36)]):
                (root / split / name / f"{i}.png").write_bytes(_png(rng, height, width))
            jpeg = tf.io.encode_jpeg(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).numpy()
            (root / split / name / "2.JPG").write_bytes(jpeg)
            (root / split / name / "notes.txt").write_text("not an image")
    return root


class KerasResnetsTinyImages(tfds.core.GeneratorBasedBuilder):
    """A tfds image classification set with train and validation splits only (like imagenet2012)."""

    VERSION = tfds.core.Version("1.0.0")
    # A one-part module name keeps tfds from looking for checksum files next to the code through
    # importlib_resources, which this environment lacks.
    __module__ = "keras_resnets_test_data"

    def _info(self):
        features = tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(8, 8, 1)),
            "label": tfds.features.ClassLabel(names=CLASSES),
        })
        return tfds.core.DatasetInfo(builder=self, features=features, supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6), "validation": self._generate_examples(3)}

    def _generate_examples(self, count):
        rng = np.random.default_rng(count)
        for i in range(count):
            yield i, {"image": rng.integers(0, 256, (8, 8, 1), dtype=np.uint8), "label": i % 3}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tfds"))
    KerasResnetsTinyImages(data_dir=directory).download_and_prepare()
    return directory


def _first(dataset):
    return next(iter(dataset))


# --- sources -------------------------------------------------------------------------------------------------


def test_sources_lists_every_form():
    assert set(SOURCES) == {"sample", "synthetic", "tfrecord:<dir>", "folder:<root>", "<tfds name>"}


def test_sample_ships_balanced_counts_and_class_names():
    for split, per_class in (("train", 800), ("test", 100)):
        dataset, info = load_split("sample", split)
        assert isinstance(info, DatasetInfo)
        assert info.num_examples[split] == 10 * per_class
        assert info.num_classes == 10 and info.image_size == (32, 32)
        assert info.class_names[:3] == ["airplane", "automobile", "bird"] and len(info.class_names) == 10
        labels = np.concatenate([y for _, y in dataset.batch(4096).as_numpy_iterator()])
        assert collections.Counter(labels.tolist()) == {label: per_class for label in range(10)}
    image, label = _first(dataset)
    assert image.shape == (32, 32, 3) and image.dtype == tf.uint8 and label.dtype == tf.int64


def test_sample_pipeline_batches():
    dataset, info = input_pipeline("sample", "train", 32, training=True, recipe="cifar", take=100, seed=0)
    shapes = [(x.shape, y.shape) for x, y in dataset]
    assert shapes == [((32, 32, 32, 3), (32,))] * 3  # 100 // 32, remainder dropped when training
    assert info.num_examples["train"] == 100
    assert _first(dataset)[0].dtype == tf.float32


def test_synthetic_source():
    dataset, info = load_split("synthetic", "train", image_size=(20, 24), num_classes=7)
    assert info.num_examples["train"] is None and info.image_size == (20, 24) and info.num_classes == 7
    labels = [int(y) for _, y in dataset.take(50)]
    assert all(0 <= y < 7 for y in labels) and len(set(labels)) > 1
    dataset, _ = input_pipeline("synthetic", "train", 4, training=True, recipe="imagenet", image_size=16,
                                num_examples=10, seed=0)
    assert [tuple(x.shape) for x, _ in dataset] == [(4, 16, 16, 3)] * 2
    dataset, _ = input_pipeline("synthetic", "train", 4, training=False, recipe="none", take=6)
    assert [tuple(x.shape) for x, _ in dataset] == [(4, 224, 224, 3), (2, 224, 224, 3)]


def test_tiny_tfrecord_plain_and_gzip(tiny_tfrecord):
    source = f"tfrecord:{tiny_tfrecord}"
    _, info = load_split(source, "train")
    assert info.num_examples == {"train": 12} and info.image_size == (32, 32) and info.num_classes == 10
    dataset, info = input_pipeline(source, "test", 4, training=False, num_classes=3)
    assert info.num_classes == 3 and info.num_examples == {"test": 6}
    assert [tuple(x.shape) for x, _ in dataset] == [(4, 32, 32, 3), (2, 32, 32, 3)]
    assert np.concatenate([y for _, y in dataset.as_numpy_iterator()]).tolist() == [0, 1, 2, 0, 1, 2]


def test_shared_cifar10_tfrecord():
    assert os.path.isdir(SHARED_CIFAR10), f"the CIFAR-10 TFRecords belong at {SHARED_CIFAR10} (or set CIFAR10_DIR)"
    dataset, info = input_pipeline(f"tfrecord:{SHARED_CIFAR10}", "test", 64, training=True, take=128, seed=0)
    assert info.num_examples["test"] == 128 and info.image_size == (32, 32)
    assert [tuple(x.shape) for x, _ in dataset] == [(64, 32, 32, 3)] * 2


def test_make_sample_writes_a_readable_balanced_sample(tiny_tfrecord, tmp_path):
    info = make_sample.make_sample(str(tiny_tfrecord), str(tmp_path), train_per_class=2, test_per_class=1,
                                   num_classes=3, class_names=CLASSES)
    assert info["num_examples"] == {"train": 6, "test": 3}
    dataset, loaded = load_split(f"tfrecord:{tmp_path}", "train")
    assert loaded.class_names == CLASSES and loaded.num_classes == 3
    assert sorted(int(y) for _, y in dataset) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="fewer than 5 examples of some class"):
        make_sample.make_sample(str(tiny_tfrecord), str(tmp_path), train_per_class=5, num_classes=3)


def test_folder_source(image_folder):
    source = f"folder:{image_folder}"
    dataset, info = load_split(source, "test")
    assert info.class_names == CLASSES and info.num_classes == 3  # labels agree with train's
    assert info.num_examples == {"test": 6} and info.image_size is None
    assert sorted(int(y) for _, y in dataset) == [0, 0, 0, 1, 1, 1]
    assert {tuple(x.shape) for x, _ in dataset} == {(40, 48, 3), (36, 36, 3), (30, 50, 3)}
    dataset, info = input_pipeline(source, "train", 4, training=False, recipe="none", image_size=(24, 24))
    assert [tuple(x.shape) for x, _ in dataset] == [(4, 24, 24, 3)] * 2 + [(1, 24, 24, 3)]
    assert info.image_size == (24, 24)
    x = _first(dataset)[0].numpy()
    assert x.min() >= 0 and x.max() <= 1
    for training in (True, False):
        dataset, _ = input_pipeline(source, "train", 3, training=training, recipe="imagenet", image_size=20, seed=0)
        assert {tuple(x.shape) for x, _ in dataset} == {(3, 20, 20, 3)}


def test_tfds_source_maps_test_to_validation_and_gray_to_rgb(tfds_dir):
    name = "keras_resnets_tiny_images"
    dataset, info = load_split(name, "test", data_dir=tfds_dir)
    assert info.num_examples == {"test": 3} and info.class_names == CLASSES and info.image_size == (8, 8)
    assert [tuple(x.shape) for x, _ in dataset] == [(8, 8, 3)] * 3
    dataset, _ = input_pipeline(name, "train[:4]", 2, training=True, recipe="cifar", data_dir=tfds_dir, seed=0)
    assert [tuple(x.shape) for x, _ in dataset] == [(2, 8, 8, 3)] * 2


# --- recipes and reproducibility -----------------------------------------------------------------------------


def test_normalization_gives_zero_mean_unit_std_on_the_sample():
    dataset, _ = input_pipeline("sample", "test", 1000, training=False, recipe="cifar")
    images = _first(dataset)[0].numpy()
    np.testing.assert_allclose(images.mean(axis=(0, 1, 2)), 0, atol=0.1)
    np.testing.assert_allclose(images.std(axis=(0, 1, 2)), 1, atol=0.1)


@pytest.mark.parametrize("pad_mode", ["zero", "reflect"])
def test_cifar_augmentation_keeps_shapes_and_changes_pixels(pad_mode):
    kwargs = dict(recipe="cifar", take=64, shuffle_buffer=1, seed=3, pad_mode=pad_mode)
    augmented = _first(input_pipeline("sample", "train", 64, training=True, **kwargs)[0])[0]
    plain = _first(input_pipeline("sample", "train", 64, training=False, **kwargs)[0])[0]
    assert augmented.shape == plain.shape == (64, 32, 32, 3)
    assert not np.allclose(augmented, plain)


def test_eval_pipeline_is_deterministic():
    dataset, _ = input_pipeline("sample", "test", 50, training=False, recipe="cifar", take=100)
    first = [x.numpy() for x, _ in dataset]
    second = [x.numpy() for x, _ in dataset]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))


def test_seeded_training_pipeline_is_reproducible():
    def epochs(seed, count=2):
        dataset, _ = input_pipeline("sample", "train", 32, training=True, recipe="cifar", take=256, seed=seed)
        return [np.concatenate([x for x, _ in dataset.take(2).as_numpy_iterator()]) for _ in range(count)]

    first, second = epochs(1), epochs(1)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])  # a fresh order and augmentation each epoch
    assert not np.array_equal(first[0], epochs(2, 1)[0])


def test_stream_can_start_at_any_batch():
    """A stream started at batch 13 (epoch 1 of 8-batch epochs, batch 5) is the stream from 0 without its first 13
    batches: images, augmentation and labels; an unseeded stream differs between iterators."""
    def stream(start_batch=0, seed=7):
        dataset, _ = input_pipeline("sample", "train", 8, training=True, recipe="cifar", take=64, seed=seed,
                                    repeat=True, start_batch=start_batch)
        return list(dataset.take(20 - start_batch).as_numpy_iterator())

    whole, resumed = stream(), stream(13)
    assert len(whole) == 20 and len(resumed) == 7
    for (images, labels), (expected_images, expected_labels) in zip(resumed, whole[13:]):
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)
    assert not np.array_equal(whole[0][0], whole[8][0])  # each epoch its own order and augmentation
    assert sorted(np.concatenate([labels for _, labels in whole[:8]])) == \
        sorted(np.concatenate([labels for _, labels in whole[8:16]]))  # an epoch is the whole (taken) split
    tf.random.set_seed(None)  # unseeded means no global seed either (a test before this one may have set it)
    unseeded = stream(seed=None), stream(seed=None)
    assert not np.array_equal(unseeded[0][0][0], unseeded[1][0][0])


def test_seeded_stream_is_independent_of_the_global_seed():
    """The epoch seeds come from `seed` alone, also under a global seed of 0 (which tf.data cannot merge with a
    tensor op seed)."""
    def first_batches():
        dataset, _ = input_pipeline("sample", "train", 8, training=True, recipe="cifar", take=32, seed=3,
                                    repeat=True, start_batch=2)
        return np.stack([images for images, _ in dataset.take(4).as_numpy_iterator()])

    try:
        batches = []
        for global_seed in (0, 5):
            tf.random.set_seed(global_seed)
            batches.append(first_batches())
    finally:
        tf.random.set_seed(None)
    np.testing.assert_array_equal(*batches)


def test_imagenet_recipe_defaults_to_224():
    for training in (True, False):
        dataset, _ = input_pipeline("sample", "test", 2, training=training, recipe="imagenet", take=2, seed=0)
        assert _first(dataset)[0].shape == (2, 224, 224, 3)


def test_measure_pipeline_counts_images():
    dataset, _ = input_pipeline("sample", "test", 10, training=False, take=30)
    assert measure_pipeline(dataset, steps=5, warmup_steps=1) > 0


# --- errors --------------------------------------------------------------------------------------------------


def test_unknown_dataset_lists_allowed_sources():
    with pytest.raises(ValueError, match=r"Unknown dataset 'not_a_dataset'\. Allowed sources: 'sample'.*folder:<root>"):
        load_split("not_a_dataset", "train")


def test_unprepared_tfds_dataset_says_how_to_prepare(tmp_path):
    with pytest.raises(ValueError, match=r"'cifar10' is not available in .*tfds build cifar10 --data_dir"):
        load_split("cifar10", "train", data_dir=str(tmp_path))


@pytest.mark.parametrize("prefix", ["tfrecord", "folder"])
def test_missing_data_directory(prefix, tmp_path):
    with pytest.raises(ValueError, match=r"Data directory '.*nowhere' does not exist"):
        load_split(f"{prefix}:{tmp_path / 'nowhere'}", "train")


def test_missing_split_file(tiny_tfrecord, image_folder):
    with pytest.raises(ValueError, match=r"No file for split 'validation'.*Splits found there: \['test', 'train'\]"):
        load_split(f"tfrecord:{tiny_tfrecord}", "validation")
    with pytest.raises(ValueError, match=r"No folder for split 'validation'.*\['test', 'train'\]"):
        load_split(f"folder:{image_folder}", "validation")


def test_empty_image_folder(tmp_path):
    os.makedirs(tmp_path / "train" / "cat")
    (tmp_path / "train" / "cat" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"No images in '.*train'"):
        load_split(f"folder:{tmp_path}", "train")


def test_unknown_recipe():
    with pytest.raises(ValueError, match=r"Unknown recipe 'autoaugment'; allowed: \['cifar', 'imagenet', 'none'\]"):
        input_pipeline("sample", "train", 8, training=True, recipe="autoaugment")


def test_unknown_split(tfds_dir):
    with pytest.raises(ValueError, match=r"Unknown split 'valid' for source 'sample'; allowed: \['train', 'test'\]"):
        load_split("sample", "valid")
    with pytest.raises(ValueError, match=r"Unknown split 'dev'; this dataset has: \['train', 'validation'\]"):
        load_split("keras_resnets_tiny_images", "dev", data_dir=tfds_dir)
    with pytest.raises(ValueError, match=r"Cannot read split 'train\[abc\]' of 'keras_resnets_tiny_images'"):
        load_split("keras_resnets_tiny_images", "train[abc]", data_dir=tfds_dir)
    with pytest.raises(ValueError, match=r"Cannot open tensorflow-datasets dataset 'cifar10:9\.9\.9'"):
        load_split("cifar10:9.9.9", "train")


@pytest.mark.parametrize("kwargs,message", [
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(take=-1), "take must be a positive integer"),
    (dict(image_size=(32,)), "image_size must be a positive int or a"),
    (dict(pad_mode="wrap"), r"Unknown pad_mode 'wrap'; allowed: \['zero', 'reflect'\]"),
    (dict(start_batch=-1, repeat=True), "start_batch must be a non-negative integer"),
    (dict(start_batch=3), "start_batch needs repeat=True"),
    (dict(batch_size=64, take=32, repeat=True), r"Split 'train' has 32 examples, fewer than one batch of 64"),
])
def test_bad_pipeline_arguments(kwargs, message):
    arguments = dict(batch_size=8, training=True) | kwargs
    with pytest.raises(ValueError, match=message):
        input_pipeline("sample", "train", **arguments)
