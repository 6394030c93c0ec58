"""Post-training quantization to TFLite: every mode with built-in ops only, accuracy against Keras on real
images, preprocessing folding, quantization-aware models, reports, and one clear error per misuse."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import keras_resnets
from keras_resnets.backend import keras
from keras_resnets.data import NORMALIZATION
from keras_resnets.export import (MODES, FlexOpsError, calibration_images, convert, gpu_compatibility,
                                  operator_names, predict, verify, with_preprocessing)
from keras_resnets.export.litert import io_details
from keras_resnets.export.verify import keras_outputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "dynamic_range": 0.1, "int8": 0.3}  # max error / largest |logit| (untrained net)
MEAN, STD = NORMALIZATION["cifar10"]


@pytest.fixture(scope="module")
def resnet20():
    return keras_resnets.create_model("resnet20", classifier_activation=None)  # logits


@pytest.fixture(scope="module")
def images():
    """Real CIFAR-10 test images from the shipped sample, normalized as the cifar recipe does."""
    return calibration_images("sample", "test", 16, recipe="cifar")


@pytest.fixture(scope="module")
def calibration():
    return calibration_images("sample", "train", 32, recipe="cifar")


def relative_error(actual, expected):
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def tensor_dtypes(content):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    return {np.dtype(detail["dtype"]).name for detail in interpreter.get_tensor_details()}


def assert_builtin_only(content):
    names = operator_names(content)
    assert not [name for name in names if name.startswith("Flex") or name == "CUSTOM"], names
    return names


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_converts_with_builtin_ops_and_matches_keras(mode, resnet20, images, calibration):
    content = convert(resnet20, mode, calibration=calibration if mode == "int8" else None)
    assert_builtin_only(content)
    error = relative_error(predict(content, images), keras_outputs(resnet20, images))
    print(f"{mode}: {len(content)} bytes, max error {error:.2e} of the largest logit")
    assert error <= TOLERANCE[mode]


@pytest.mark.parametrize("io_type", ["uint8", "int8"])
def test_full_int8_has_integer_io_and_only_integer_tensors(io_type, resnet20, images, calibration):
    content = convert(resnet20, "int8", calibration=calibration, io_type=io_type)
    assert_builtin_only(content)
    io = io_details(content)
    assert io["input"]["dtype"] == io["output"]["dtype"] == io_type
    assert io["input"]["scale"] > 0
    assert tensor_dtypes(content) <= {"int8", "uint8", "int32"}  # no float tensor anywhere (int32: biases, shapes)
    agreement = np.mean(predict(content, images).argmax(-1) == keras_outputs(resnet20, images).argmax(-1))
    assert agreement >= 0.75


def test_larger_model_converts_at_64px(calibration):
    model = keras_resnets.create_model("resnet18", input_shape=(64, 64, 3), classes=10, classifier_activation=None)
    data = calibration_images("sample", "train", 8, recipe="cifar", image_size=64)
    content = convert(model, "int8", calibration=tf.data.Dataset.from_tensor_slices(data).batch(4))
    assert {"CONV_2D", "ADD"} <= set(assert_builtin_only(content))
    assert io_details(content)["input"]["shape"] == [1, 64, 64, 3]


def test_folded_preprocessing_on_raw_pixels_matches_keras_on_normalized_images(resnet20, images):
    raw = calibration_images("sample", "test", 16, recipe="cifar", raw=True)
    assert raw.max() > 100 and np.allclose(raw, np.round(raw))
    expected = keras_outputs(resnet20, images)
    folded = with_preprocessing(resnet20, MEAN, STD)
    assert relative_error(keras_outputs(folded, raw), expected) <= 1e-5
    for io_type in ("float32", "uint8"):
        content = convert(resnet20, "float32", preprocessing="cifar10", io_type=io_type)
        assert io_details(content)["input"]["dtype"] == io_type
        assert relative_error(predict(content, raw), expected) <= 1e-4


def test_folded_preprocessing_with_uint8_int8_takes_pixels_as_they_are(resnet20, images):
    raw_calibration = calibration_images("sample", "train", 32, recipe="cifar", raw=True)
    content = convert(resnet20, "int8", calibration=raw_calibration, preprocessing="cifar10", io_type="uint8")
    io = io_details(content)["input"]
    assert (io["dtype"], io["zero_point"]) == ("uint8", 0) and abs(io["scale"] - 1.0) < 0.01  # pixel = uint8 value
    raw = calibration_images("sample", "test", 16, recipe="cifar", raw=True)
    agreement = np.mean(predict(content, raw).argmax(-1) == keras_outputs(resnet20, images).argmax(-1))
    assert agreement >= 0.75


def test_keras_file_and_registry_name(tmp_path, resnet20, images):
    path = str(tmp_path / "model.keras")
    resnet20.save(path)
    assert relative_error(predict(convert(path, "float32"), images), keras_outputs(resnet20, images)) <= 1e-4
    assert io_details(convert("resnet20", "float32"))["input"]["shape"] == [1, 32, 32, 3]


def test_verify_reports_errors_agreement_accuracy_and_gpu_ops(resnet20, images):
    content = convert(resnet20, "float32")
    report = verify(content, resnet20, images, labels=np.zeros(len(images), np.int64))
    assert report["max_rel_error"] <= 1e-4 and report["top1_agreement"] == 1.0
    assert 0.0 <= report["accuracy"] <= 1.0 and report["accuracy"] == report["keras_accuracy"]
    assert report["op_counts"]["CONV_2D"] == 19 and report["gpu_compatible"]
    ops = gpu_compatibility(content)["ops"]
    assert {op["op"] for op in ops} >= {"CONV_2D", "ADD", "PAD", "MEAN", "FULLY_CONNECTED"}
    assert all(op["gpu"] for op in ops)


def test_export_and_benchmark_write_reports(tmp_path):
    from keras_resnets.export.benchmark import run_benchmark
    from keras_resnets.export.workflow import export_model

    report = export_model("resnet20", ["float32", "int8"], str(tmp_path), source="sample", calibration_count=8,
                          eval_count=8, preprocessing="cifar10", io_type="uint8", log=lambda *_: None)
    assert [row["mode"] for row in report["results"]] == ["float32", "int8"]
    assert report["results"][0]["max_rel_error"] <= 1e-4
    for name in ("resnet20_float32.tflite", "resnet20_int8.tflite", "resnet20_report.json", "resnet20_report.md"):
        assert (tmp_path / name).exists()
    paths = run_benchmark(["resnet20=int8+float32"], ["float32"], str(tmp_path / "bench"), source="sample",
                          eval_count=4, calibration_count=4, runs=2, warmup=1, log=lambda *_: None)
    assert all(os.path.getsize(path) > 0 for path in paths.values())
    with open(paths["markdown"]) as file:
        assert "| resnet20 | int8 |" in file.read()
    with open(paths["json"]) as file:
        int8_row, float_row = json.load(file)["rows"]
    for count in (1, 2):
        speedup = float_row[f"p50_ms_{count}t"] / int8_row[f"p50_ms_{count}t"]
        assert int8_row[f"speedup_{count}t"] == pytest.approx(speedup)
        assert float_row[f"speedup_{count}t"] == 1.0


def test_export_checks_a_folded_checkpoint_transform_on_its_own_images(tmp_path):
    # A checkpoint's statistics (not ImageNet's), crop fraction and interpolation, as tflite/convert.py passes them
    # for hub --weights: the Keras reference sees the same images, normalized as the file normalizes them.
    from keras_resnets.export.workflow import export_model

    model = keras_resnets.create_model("resnet18", input_shape=(32, 32, 3), widths=(4, 8, 16, 32), classes=10)
    report = export_model(model, ["float32"], str(tmp_path), source="sample", eval_count=8, recipe="imagenet",
                          preprocessing=((127.5,) * 3, (127.5,) * 3), crop_pct=0.6, interpolation="nearest",
                          log=lambda *_: None)
    assert report["results"][0]["max_rel_error"] <= 1e-4


def test_latencies_time_every_file_in_interleaved_rounds(monkeypatch):
    from keras_resnets.export import benchmark

    calls = []

    class Runner:
        def __init__(self, key):
            self.key = key

        def invoke(self):
            calls.append(self.key)

    monkeypatch.setattr(benchmark, "_timed_runner", lambda content, count: Runner((content, count)))
    timings = benchmark.latencies({"a": "A", "b": "B"}, threads=(1, 2), runs=5, warmup=1, rounds=2)
    assert set(timings) == {("a", 1), ("a", 2), ("b", 1), ("b", 2)}
    timed = calls[4:]  # after one warm-up invoke per runner
    assert timed == [("A", 1)] * 3 + [("A", 2)] * 3 + [("B", 1)] * 3 + [("B", 2)] * 3 + \
        [("A", 1)] * 2 + [("A", 2)] * 2 + [("B", 1)] * 2 + [("B", 2)] * 2
    assert all(timing["p50_ms"] <= timing["p90_ms"] for timing in timings.values())


def test_conv_throughput_rows():
    from keras_resnets.export.benchmark import conv_throughput, parse_conv_shape

    (row,) = conv_throughput([parse_conv_shape("8x16x16x3")], runs=2, warmup=1)
    assert row["macs"] == 8 * 8 * 16 * 16 * 9
    assert row["speedup"] == pytest.approx(row["float32_ms"] / row["int8_ms"])
    assert row["int8_gmacs"] == pytest.approx(row["macs"] / row["int8_ms"] / 1e6)


@pytest.mark.parametrize("text", ["56x64x64", "56x64x64x0", "56x64xKx3"])
def test_bad_conv_shape(text):
    from keras_resnets.export.benchmark import parse_conv_shape

    with pytest.raises(ValueError, match=r"must be SIZExINxOUTxKERNEL with positive integers"):
        parse_conv_shape(text)


# --- one clear error per misuse -------------------------------------------------------------------------------


class Singular(keras.layers.Layer):
    """Singular values: tf.linalg.svd has no TFLite built-in."""

    def call(self, inputs):
        return tf.linalg.svd(inputs, compute_uv=False)


def test_unknown_mode(resnet20):
    with pytest.raises(ValueError, match=r"Unknown quantization mode 'int4'; allowed: \['float32', 'float16'"):
        convert(resnet20, "int4")


def test_full_int8_without_calibration(resnet20):
    with pytest.raises(ValueError, match="Full int8 needs calibration data"):
        convert(resnet20, "int8")


def test_calibration_of_the_wrong_shape(resnet20):
    wrong = calibration_images("sample", "train", 2, recipe="cifar", image_size=64)
    with pytest.raises(ValueError, match=r"Calibration images have shape \(64, 64, 3\); the model takes \(32, 32, 3\)"):
        convert(resnet20, "int8", calibration=wrong)


def test_normalized_calibration_for_raw_pixel_model(resnet20, calibration):
    with pytest.raises(ValueError, match="look normalized"):
        convert(resnet20, "int8", calibration=calibration, preprocessing="cifar10")


def test_model_needing_flex_ops():
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Flatten()(Singular()(keras.layers.Conv2D(4, 3)(inputs)))
    with pytest.raises(FlexOpsError, match=r"needs ops outside TFLite's built-in set \(mode 'float32'\): Svd\.") as info:
        convert(keras.Model(inputs, outputs, name="svd_net"), "float32")
    assert info.value.ops == ("Svd",)


def test_path_that_is_not_a_keras_file(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"is not a \.keras file"):
        convert(str(path), "float32")
    with pytest.raises(ValueError, match="No such model file"):
        convert(str(tmp_path / "missing.keras"), "float32")


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet21'\. Did you mean"):
        convert("resnet21", "float32")


def test_bad_io_type(resnet20):
    with pytest.raises(ValueError, match="Unknown io_type 'float64'"):
        convert(resnet20, "int8", io_type="float64")
    with pytest.raises(ValueError, match="io_type 'int8' needs mode 'int8'"):
        convert(resnet20, "float16", io_type="int8")


# --- quantization-aware (tf_keras + tfmot) models convert without calibration data ------------------------------

QAT_SCRIPT = textwrap.dedent("""
    import os
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow_model_optimization as tfmot
    from keras_resnets.backend import keras
    from keras_resnets.export import convert, has_fake_quant, predict
    from keras_resnets.export.litert import io_details
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = tfmot.quantization.keras.quantize_model(keras.Model(inputs, keras.layers.Dense(4)(x)))
    content = convert(model, "int8")  # no calibration: the fake-quant nodes carry the ranges
    assert io_details(content)["input"]["dtype"] == "int8", io_details(content)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    error = np.max(np.abs(predict(content, images) - model(images, training=False).numpy()))
    plain = keras.Model(inputs, keras.layers.Dense(4)(x))
    try:
        convert(plain, "int8")
        raise SystemExit("a plain tf_keras model converted to int8 without calibration")
    except ValueError as e:
        assert "calibration" in str(e)
    print("QAT_OK", error)
""")


def test_quantization_aware_tf_keras_model_converts_to_int8_without_calibration():
    # Not importorskip: importing tfmot sets TF_USE_LEGACY_KERAS=1 in this process's environment, which every
    # later subprocess of the test session would inherit.
    result = subprocess.run([sys.executable, "-c", QAT_SCRIPT], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert "QAT_OK" in result.stdout, result.stdout[-2000:] + result.stderr[-4000:]
