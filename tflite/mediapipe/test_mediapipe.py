"""MediaPipe ImageClassifier on the fixture models must answer what LiteRT answered in the main environment.

Runs in the MediaPipe environment only (no TensorFlow, no keras_resnets):

    mpvenv/bin/python -m pytest tflite/mediapipe/test_mediapipe.py -q

The fixture (tflite/mediapipe/fixture/, made by make_fixture.py in the main environment) holds ResNet-20 CIFAR-10
classifiers with raw-pixel inputs, the first N records of the real CIFAR-10 test set (fixture/test.tfrecord, or
CIFAR10_DIR's test.tfrecord when set) and the LiteRT top-1 for them. The TFRecords are read here without
TensorFlow.
"""

import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("mediapipe", reason="runs in the MediaPipe environment (tflite/mediapipe/requirements.txt)")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import metadata  # noqa: E402
from metadata import MetadataError, write_metadata  # noqa: E402

FIXTURE = os.path.join(HERE, "fixture")
LABELS = os.path.join(FIXTURE, "labels.txt")
DATA_DIR = os.environ.get("CIFAR10_DIR", FIXTURE)
# kind -> (metadata mean, std, minimum top-1 agreement with LiteRT, score tolerance). MediaPipe runs the same LiteRT
# kernels (XNNPACK) on the same pixels, so all three agree on every image (measured: 200/200 each).
MODELS = {"float32": (0.0, 1.0, 1.0, 1e-5), "uint8": (None, None, 1.0, 1e-5), "int8": (None, None, 1.0, 1e-5)}


# --- TFRecord + tf.train.Example, without TensorFlow -------------------------------------------------------------

def read_tfrecords(path, count):
    """The first `count` records: uint64 length, uint32 masked crc, data, uint32 masked crc (crcs not checked)."""
    opener = gzip.open if path.endswith(".gz") else open
    records = []
    with opener(path, "rb") as f:
        while len(records) < count:
            header = f.read(12)
            if not header:
                break
            if len(header) != 12:
                raise ValueError(f"{path}: truncated record header")
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            if len(data) != length or len(f.read(4)) != 4:
                raise ValueError(f"{path}: truncated record")
            records.append(data)
    return records


def _varint(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    """(field number, wire type, value) of a protobuf message; value: int (varint) or bytes (length-delimited)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def parse_example(record):
    """{name: [bytes, ...] or [int, ...]} for the bytes_list and int64_list features of a tf.train.Example."""
    features = {}
    for number, _, features_msg in _fields(record):  # Example.features = 1
        if number != 1:
            continue
        for entry_number, _, entry in _fields(features_msg):  # Features.feature = 1 (map<string, Feature>)
            if entry_number != 1:
                continue
            name, feature = None, b""
            for field, _, value in _fields(entry):
                if field == 1:
                    name = value.decode("utf-8")
                elif field == 2:
                    feature = value
            values = []
            for kind, _, lst in _fields(feature):  # bytes_list = 1, float_list = 2, int64_list = 3
                for field, wire, value in _fields(lst):
                    if kind == 1 and field == 1:
                        values.append(value)
                    elif kind == 3 and field == 1 and wire == 0:
                        values.append(value - (1 << 64) if value >= 1 << 63 else value)
                    elif kind == 3 and field == 1 and wire == 2:  # packed
                        pos = 0
                        while pos < len(value):
                            item, pos = _varint(value, pos)
                            values.append(item - (1 << 64) if item >= 1 << 63 else item)
            features[name] = values
    return features


# --- fixtures ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def expected():
    path = os.path.join(FIXTURE, "expected.npz")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run tflite/mediapipe/make_fixture.py in the main environment.")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def images(expected):
    path = os.path.join(DATA_DIR, "test.tfrecord")
    if not os.path.exists(path):
        pytest.skip(f"real CIFAR-10 not found at {path} (set CIFAR10_DIR)")
    indices = expected["indices"]
    records = read_tfrecords(path, int(indices.max()) + 1)
    decoded, labels = [], []
    for index in indices:
        example = parse_example(records[index])
        decoded.append(np.asarray(Image.open(io.BytesIO(example["image"][0])).convert("RGB")))
        labels.append(example["label"][0])
    np.testing.assert_array_equal(labels, expected["labels"], err_msg="the fixture's images are not these records")
    return np.stack(decoded)


def classify_all(model_path, images, use_buffer):
    from mediapipe import Image as MpImage, ImageFormat
    from mediapipe.tasks.python import BaseOptions, vision

    if use_buffer:
        with open(model_path, "rb") as f:
            base = BaseOptions(model_asset_buffer=f.read())
    else:
        base = BaseOptions(model_asset_path=model_path)
    options = vision.ImageClassifierOptions(base_options=base, max_results=1)
    top1, scores, names = [], [], []
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image in images:
            result = classifier.classify(MpImage(image_format=ImageFormat.SRGB, data=np.ascontiguousarray(image)))
            (category,) = result.classifications[0].categories
            top1.append(category.index)
            scores.append(category.score)
            names.append(category.category_name)
    return np.asarray(top1), np.asarray(scores), names


# --- tests -------------------------------------------------------------------------------------------------------

def test_jpeg_decoding_matches_tensorflow(images, expected):
    """PIL here and tf.io.decode_jpeg in the main environment give the same pixels, so LiteRT saw the same input."""
    digests = [hashlib.sha1(image.tobytes()).hexdigest() for image in images]
    assert digests == list(expected["pixel_sha1"])


@pytest.mark.parametrize("kind", list(MODELS))
def test_mediapipe_top1_matches_litert(kind, images, expected, tmp_path):
    mean, std, min_agreement, atol = MODELS[kind]
    model = tmp_path / f"{kind}_metadata.tflite"
    metadata_json = json.loads(write_metadata(
        os.path.join(FIXTURE, f"cifar10_resnet20_{kind}.tflite"), LABELS, model, mean=mean, std=std,
        name="ResNet-20 CIFAR-10", description="test", version="1", author="keras_resnets"))
    assert metadata_json["name"] == "ResNet-20 CIFAR-10"
    assert metadata_json["version"] == "1" and metadata_json["author"] == "keras_resnets"

    top1, scores, names = classify_all(str(model), images, use_buffer=(kind == "float32"))
    litert_top1 = expected[f"{kind}_top1"]
    agreement = float((top1 == litert_top1).mean())
    accuracy = float((top1 == expected["labels"]).mean())
    print(f"{kind}: MediaPipe vs LiteRT top-1 agreement {agreement:.3f} on {len(top1)} images; "
          f"MediaPipe accuracy {accuracy:.3f}")
    assert agreement >= min_agreement, f"{kind}: MediaPipe agrees with LiteRT on {agreement:.1%} of the images"
    with open(LABELS) as f:
        class_names = f.read().split()
    assert names == [class_names[i] for i in top1]
    litert_scores = expected[f"{kind}_scores"][np.arange(len(top1)), top1]
    same = top1 == litert_top1
    print(f"{kind}: max |MediaPipe - LiteRT| top-1 score {np.abs(scores[same] - litert_scores[same]).max():.2e}")
    np.testing.assert_allclose(scores[same], litert_scores[same], rtol=0, atol=atol)


# --- clear errors ------------------------------------------------------------------------------------------------

def _float_model():
    return os.path.join(FIXTURE, "cifar10_resnet20_float32.tflite")


def _uint8_model():
    return os.path.join(FIXTURE, "cifar10_resnet20_uint8.tflite")


def _with_input_shape(tmp_path, shape):
    """A copy of the float32 model whose input tensor claims `shape` (enough for the writer's checks)."""
    from mediapipe.tasks.metadata import schema_py_generated as schema_fb
    import flatbuffers

    with open(_float_model(), "rb") as f:
        model = schema_fb.ModelT.InitFromObj(schema_fb.Model.GetRootAsModel(f.read(), 0))
    subgraph = model.subgraphs[0]
    subgraph.tensors[subgraph.inputs[0]].shape = list(shape)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "reshaped.tflite"
    path.write_bytes(builder.Output())
    return path


def test_wrong_number_of_labels(tmp_path):
    with pytest.raises(MetadataError, match="9 labels for a model with 10 classes"):
        write_metadata(_float_model(), [str(i) for i in range(9)], tmp_path / "m.tflite", mean=0, std=1, name="m")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(str(i) for i in range(11)) + "\n")
    with pytest.raises(MetadataError, match="11 labels for a model with 10 classes"):
        write_metadata(_float_model(), labels, tmp_path / "m.tflite", mean=0, std=1, name="m")
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("shape", [(1, 32, 32, 1), (2, 32, 32, 3), (1, 3, 32, 32), (1, 32, 32)])
def test_input_must_be_one_rgb_image(tmp_path, shape):
    with pytest.raises(MetadataError, match=r"\[1, H, W, 3\]"):
        write_metadata(_with_input_shape(tmp_path, shape), LABELS, tmp_path / "m.tflite", mean=0, std=1, name="m")


def test_normalization_rules(tmp_path):
    with pytest.raises(MetadataError, match="float32 input needs mean and std"):
        write_metadata(_float_model(), LABELS, tmp_path / "m.tflite", name="m")
    with pytest.raises(MetadataError, match="one number for all channels"):
        write_metadata(_float_model(), LABELS, tmp_path / "m.tflite", mean=[125.3, 123.0, 113.9], std=1, name="m")
    with pytest.raises(MetadataError, match="uint8 input takes raw pixels"):
        write_metadata(_uint8_model(), LABELS, tmp_path / "m.tflite", mean=127.5, std=127.5, name="m")
    with pytest.raises(MetadataError, match="std must be > 0"):
        write_metadata(_float_model(), LABELS, tmp_path / "m.tflite", mean=0, std=0, name="m")


def test_not_a_tflite_file(tmp_path):
    bogus = tmp_path / "bogus.tflite"
    bogus.write_bytes(b"not a model at all")
    with pytest.raises(MetadataError, match="not a TFLite flatbuffer"):
        write_metadata(bogus, LABELS, tmp_path / "m.tflite", name="m")
    with pytest.raises(MetadataError, match="cannot read the model"):
        write_metadata(tmp_path / "missing.tflite", LABELS, tmp_path / "m.tflite", name="m")


def test_cli(tmp_path):
    script = os.path.join(HERE, "add_metadata.py")
    output = tmp_path / "cli.tflite"
    done = subprocess.run([sys.executable, script, _uint8_model(), f"--labels={LABELS}", f"--output={output}",
                           "--name=ResNet-20", f"--json={tmp_path / 'm.json'}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert output.stat().st_size > os.path.getsize(_uint8_model())
    assert json.loads((tmp_path / "m.json").read_text())["name"] == "ResNet-20"
    done = subprocess.run([sys.executable, script, _float_model(), f"--labels={LABELS}", f"--output={output}",
                           "--name=x"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "float32 input needs mean and std" in done.stderr and "Traceback" not in done.stderr


def test_module_needs_no_tensorflow():
    assert "tensorflow" not in sys.modules and "keras_resnets" not in sys.modules
    assert metadata.__name__ == "metadata"
