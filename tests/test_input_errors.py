"""Bad data, bad weights files and bad export arguments: one clear error naming the file, before anything runs.

Nothing lost (a failed weights load leaves the model as it was), nothing silently wrong (labels that are not
classes, one-class datasets, NaN calibration images, MACs of layers the counter does not know).
"""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_resnets.data import DataError, input_pipeline, load_split, records

CLASSES = ["cat", "dog", "frog"]


def _jpeg(rng, size=8):
    return tf.io.encode_jpeg(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).numpy()


def _write(path, examples):
    records.write_records(str(path), examples)
    return path


@pytest.fixture
def good_examples(rng):
    return [(_jpeg(rng), i % 3) for i in range(12)]


# --- data: records, images, labels ---------------------------------------------------------------------------


def test_corrupt_jpeg_in_a_tfrecord_is_named_before_training(tmp_path, good_examples):
    examples = list(good_examples)
    examples[5] = (examples[5][0][:40], 1)  # a truncated JPEG
    _write(tmp_path / "train.tfrecord", examples)
    with pytest.raises(DataError, match=r"train\.tfrecord: 1 of 12 example\(s\) cannot be read or decoded: "
                                        r"record 5\. The first one fails with: .*(JPEG|jpeg)"):
        input_pipeline(f"tfrecord:{tmp_path}", "train", 4, training=True)


def test_truncated_tfrecord_file_is_named_with_the_records_read(tmp_path, good_examples):
    path = _write(tmp_path / "train.tfrecord", good_examples)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 100])
    with pytest.raises(DataError, match=r"TFRecord file .*train\.tfrecord is truncated or corrupt: 11 record\(s\) "
                                        r"read, then"):
        load_split(f"tfrecord:{tmp_path}", "train")


def test_gzip_file_without_gz_suffix_says_how_to_name_it(tmp_path, good_examples):
    _write(tmp_path / "train.tfrecord.gz", good_examples)
    os.rename(tmp_path / "train.tfrecord.gz", tmp_path / "train.tfrecord")
    with pytest.raises(DataError, match=r"truncated or corrupt: 0 record\(s\) read.*must be named "
                                        r"<split>\.tfrecord\.gz"):
        load_split(f"tfrecord:{tmp_path}", "train")


def test_wrong_feature_names_are_listed_against_the_expected_ones(tmp_path, rng):
    feature = {"image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[_jpeg(rng)])),
               "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}
    record = tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
    with tf.io.TFRecordWriter(str(tmp_path / "train.tfrecord")) as writer:
        writer.write(record)
    with pytest.raises(DataError, match=r"have the features 'image_raw' \(bytes_list\), 'label' \(int64_list\); "
                                        r"expected 'image' \(bytes_list\), 'label' \(int64_list\)"):
        load_split(f"tfrecord:{tmp_path}", "train")


def test_records_that_are_not_examples(tmp_path):
    with tf.io.TFRecordWriter(str(tmp_path / "train.tfrecord")) as writer:
        writer.write(b"\xff\xfe not a protocol buffer")
    with pytest.raises(DataError, match=r"does not hold tf\.train\.Example records"):
        load_split(f"tfrecord:{tmp_path}", "train")


def test_labels_outside_the_classes_are_named(tmp_path, good_examples):
    examples = list(good_examples)
    examples[3], examples[7] = (examples[3][0], 10), (examples[7][0], -1)
    _write(tmp_path / "train.tfrecord", examples)
    with pytest.raises(DataError, match=r"2 example\(s\) have labels outside \[0, 10\): record 3 \(label 10\), "
                                        r"record 7 \(label -1\)\. .*pass num_classes"):
        input_pipeline(f"tfrecord:{tmp_path}", "train", 4, training=True)
    dataset, info = load_split(f"tfrecord:{tmp_path}", "train", num_classes=11, take=7)  # only records 0-6 used
    assert info.num_examples["train"] == 7 and len(list(dataset)) == 7


def test_unvalidated_split_still_stops_at_a_label_that_is_no_class(tmp_path, good_examples):
    _write(tmp_path / "train.tfrecord", [(image, 12) for image, _ in good_examples])
    dataset, _ = load_split(f"tfrecord:{tmp_path}", "train", validate=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"A label in .*train\.tfrecord is outside \[0, 10\)"):
        list(dataset)


def _folder(root, classes, rng, corrupt=None):
    for name in classes:
        os.makedirs(root / "train" / name)
        for i in range(3):
            (root / "train" / name / f"{i}.jpg").write_bytes(_jpeg(rng))
    if corrupt:
        (root / "train" / corrupt).write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return root


def test_corrupt_image_in_a_folder_is_named_with_its_path(tmp_path, rng):
    root = _folder(tmp_path, CLASSES, rng, corrupt="dog/1.jpg")
    with pytest.raises(DataError, match=r"Image folder .*train: 1 of 9 example\(s\) cannot be read or decoded: "
                                        r".*train/dog/1\.jpg\. The first one fails with"):
        input_pipeline(f"folder:{root}", "train", 4, training=True, image_size=8)


def test_large_splits_are_checked_only_when_asked(tmp_path, rng):
    root = _folder(tmp_path, CLASSES, rng, corrupt="cat/0.jpg")
    load_split(f"folder:{root}", "train", validate=False)  # lazily decoded: not read yet
    with pytest.raises(DataError, match=r"cat/0\.jpg"):
        load_split(f"folder:{root}", "train", validate=True)
    with pytest.raises(ValueError, match=r"validate must be 'auto', True or False; got 'yes'"):
        load_split(f"folder:{root}", "train", validate="yes")


def test_one_class_folder_is_refused(tmp_path, rng):
    root = _folder(tmp_path, ["cat"], rng)
    with pytest.raises(DataError, match=r"has 1 class\(es\); classification needs at least 2"):
        load_split(f"folder:{root}", "train")


def test_a_bad_dataset_leaves_no_run_directory(tmp_path, rng):
    from keras_resnets.training.config import TrainConfig
    from keras_resnets.training.trainer import train

    root = _folder(tmp_path / "data", CLASSES, rng, corrupt="frog/2.jpg")
    with pytest.raises(DataError, match=r"frog/2\.jpg"):
        train(TrainConfig(dataset=f"folder:{root}", model="resnet20", image_size=8, train_split="train",
                          eval_split="train", batch_size=2, model_dir=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()


# --- weights: all or nothing ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet20_files(tmp_path_factory):
    """resnet20 saved as .keras (logits and optimizer state, as the training app saves it) and as .weights.h5."""
    import keras_resnets
    from keras_resnets.backend import keras

    directory = tmp_path_factory.mktemp("weights")
    model = keras_resnets.create_model("resnet20", classifier_activation=None, input_shape=(16, 16, 3))
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    model.optimizer.build(model.trainable_variables)  # its variables go into the file, as after training
    model.save(str(directory / "resnet20.keras"))
    model.save_weights(str(directory / "resnet20.weights.h5"))
    return directory


def _values(model):
    return [variable.numpy().copy() for variable in model.weights]


@pytest.mark.parametrize("filename,message", [
    ("resnet20.keras", r"holds another architecture than resnet32 \(\d+ layer\(s\) differ\): layer 'stage1_block4' "
                       r"only in the model"),
    ("resnet20.weights.h5", r"does not match the architecture of resnet32 \(\d+ variable\(s\) differ\): "
                            r".*file \(32,\) vs model \(16,\).*and \d+ more"),
])
def test_a_failed_load_changes_no_variable(resnet20_files, filename, message):
    import keras_resnets

    model = keras_resnets.create_model("resnet32", input_shape=(16, 16, 3))
    before = _values(model)
    with pytest.raises(ValueError, match=message):
        keras_resnets.load_weights(model, resnet20_files / filename)
    assert all(np.array_equal(a, b) for a, b in zip(before, _values(model)))


def test_plain_net_refuses_the_weights_of_a_resnet(resnet20_files):
    import keras_resnets

    with pytest.raises(ValueError, match=r"holds another architecture than plain20 .*layer 'stage1_block1': "
                                         r"shortcut 'A' in the file, None in the model"):
        keras_resnets.create_model("plain20", weights=str(resnet20_files / "resnet20.keras"))
    # What may differ: the classifier activation (the file holds logits), the input size, training-only rates.
    model = keras_resnets.create_model("resnet20", weights=str(resnet20_files / "resnet20.keras"), drop_path_rate=0.1)
    saved = keras_resnets.create_model("resnet20", input_shape=(16, 16, 3), classifier_activation=None)
    saved.load_weights(str(resnet20_files / "resnet20.weights.h5"))
    assert np.array_equal(model.get_layer("predictions").kernel.numpy(), saved.get_layer("predictions").kernel.numpy())


@pytest.mark.parametrize("filename,content,message", [
    ("truncated.keras", None, r"'.*truncated\.keras' is corrupt or not a valid \.keras \(a zip of config\.json and "
                              r"model\.weights\.h5\) file"),
    ("notes.weights.h5", b"just some text\n", r"'.*notes\.weights\.h5' is corrupt or not a valid HDF5 weights file"),
    ("notes.h5", b"just some text\n", r"'.*notes\.h5' is corrupt or not a valid HDF5 weights file"),
    ("broken.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}", r"'.*broken\.safetensors' is corrupt or "
                                                                          r"not a valid \.safetensors file"),
])
def test_corrupt_weights_files_are_reported_as_corrupt(resnet20_files, tmp_path, filename, content, message):
    import keras_resnets

    path = tmp_path / filename
    if content is None:
        archive = (resnet20_files / "resnet20.keras").read_bytes()
        content = archive[: len(archive) // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        keras_resnets.create_model("resnet18", input_shape=(32, 32, 3), weights=str(path))  # it reads timm files too


def test_a_directory_is_not_a_weights_file(tmp_path):
    import keras_resnets

    with pytest.raises(ValueError, match=r"weights '.*' is a directory; pass the path of a weights file \(\.weights"):
        keras_resnets.create_model("resnet20", weights=str(tmp_path))


def test_timm_file_of_another_architecture_is_summarized():
    from tests.timm_fixtures import load_fixture

    import keras_resnets

    _, _, _, _, _, weights = load_fixture("resnet_bottleneck")
    with pytest.raises(ValueError) as raised:
        keras_resnets.create_model("resnet18", input_shape=(32, 32, 3), weights=weights)
    message = str(raised.value)
    assert re.search(r"missing from the file: [^;]+ and \d+ more; left over in the file: [^;]+ and \d+ more", message)
    assert len(message) < 2000, len(message)


# --- counting, builders ---------------------------------------------------------------------------------------


def _wrapper_class():
    """A custom layer calling a Conv2D of its own (the counter must look inside), and one with a bare kernel."""
    from keras_resnets.backend import keras

    class ConvWrapper(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.conv = keras.layers.Conv2D(64, 3, padding="same")

        def call(self, inputs):
            return self.conv(inputs)

    class OwnKernel(keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 4), name="kernel")

        def call(self, inputs):
            return tf.matmul(inputs, self.kernel)

    return ConvWrapper, OwnKernel


def test_count_macs_counts_every_kernel_layer_wherever_it_is():
    import keras_resnets
    from keras_resnets.backend import keras

    conv_wrapper, _ = _wrapper_class()
    inputs = keras.Input((16, 16, 3))
    x = conv_wrapper()(inputs)                                                     # 16*16*64 * 9*3
    x = keras.Sequential([keras.layers.Conv2D(8, 1)])(x)                           # 16*16*8 * 64
    x = keras.layers.SeparableConv2D(16, 3, padding="same")(x)                     # 16*16*8 * (9 + 16)
    x = keras.layers.Conv2DTranspose(4, 2, strides=2)(x)                          # 16*16*16 * 4 * 4
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)             # 16*16*4 * 9
    x = keras.layers.Reshape((16 * 16, 4))(x)
    x = keras.layers.Conv1D(2, 3, padding="same")(x)                               # 256*2 * 3*4
    outputs = keras.layers.Dense(5)(keras.layers.Flatten()(x))                      # 5 * 512
    expected = (16 * 16 * 64 * 27 + 16 * 16 * 8 * 64 + 16 * 16 * 8 * 25 + 16 * 16 * 16 * 16 + 16 * 16 * 4 * 9
                + 256 * 2 * 12 + 5 * 512)
    assert keras_resnets.count_macs(keras.Model(inputs, outputs)) == expected


def test_count_macs_refuses_weights_it_cannot_count():
    import keras_resnets
    from keras_resnets.backend import keras

    _, own_kernel = _wrapper_class()
    inputs = keras.Input((8,))
    model = keras.Model(inputs, own_kernel(name="mystery")(inputs))
    with pytest.raises(ValueError, match=r"cannot count layer 'mystery' \(OwnKernel\): its weights \['kernel'\]"):
        keras_resnets.count_macs(model)


@pytest.mark.parametrize("call,message", [
    (lambda k: k.CifarResNet(depth="20"), r"depth with basic blocks must be 6n\+2 .*got '20'"),
    (lambda k: k.create_model("resnet20", drop_path_rate="0.1"), r"drop_path_rate must be in \[0, 1\), got '0\.1'"),
    (lambda k: k.create_model("resnet20", input_shape=("32", "32", "3")), r"input_shape must hold integers"),
    (lambda k: k.ResNet(layers=("2", "2", "2", "2")), r"layers must give a positive block count"),
    (lambda k: k.Res2Net(base_width="26"), r"base_width must be a positive integer; got '26'"),
    (lambda k: k.create_model("plain20", drop_path_rate=0.1), r"drop_path_rate needs a shortcut: .*plain net"),
])
def test_builder_arguments_of_the_wrong_type_or_meaning(call, message):
    import keras_resnets

    with pytest.raises(ValueError, match=message):
        call(keras_resnets)


# --- export: every argument checked before the work ------------------------------------------------------------


@pytest.mark.parametrize("kwargs,message", [
    (dict(modes=["float32"], io_type="uint8"), r"io_type 'uint8' with mode 'float32' means raw uint8 pixels: fold "
                                               r"the preprocessing in"),
    (dict(modes=[]), r"modes must name at least one of"),
    (dict(calibration_count=0), r"calibration_count must be a positive integer; got 0"),
    (dict(eval_count=-5), r"eval_count must be a positive integer; got -5"),
])
def test_export_refuses_bad_arguments_before_loading_anything(tmp_path, kwargs, message):
    from keras_resnets.export.workflow import export_model

    arguments = dict(modes=["float32", "int8"], source="sample") | kwargs
    with pytest.raises(ValueError, match=message):
        export_model("no_such_model_is_loaded", output_dir=str(tmp_path), **arguments)


@pytest.mark.parametrize("where", ["file", "below_a_file"])
def test_output_dir_that_cannot_be_a_directory(tmp_path, where):
    from keras_resnets.export.workflow import export_model

    (tmp_path / "taken").write_text("a file")
    output_dir = tmp_path / "taken" / ("sub" if where == "below_a_file" else "")
    with pytest.raises(ValueError, match=r"output_dir '.*taken.*' cannot be used as a directory"):
        export_model("resnet20", ["float32"], str(output_dir), source="sample")


def test_nan_calibration_images_are_refused():
    from keras_resnets.export import convert

    images = np.zeros((4, 32, 32, 3), np.float32)
    images[2, 5, 5, 0] = np.nan
    with pytest.raises(ValueError, match=r"Calibration images \[2\] \(1 of 4\) hold NaN or Inf values"):
        convert("resnet20", "int8", calibration=images)
