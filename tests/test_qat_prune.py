"""QAT and pruning through tfmot in a tf_keras child process; neutral weights between Keras 3 and tf_keras."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras_resnets
from keras_resnets.backend import keras
from keras_resnets.export import litert
from keras_resnets.export.tfmot.flat_weights import (
    NotAKerasResnetsModelError,
    load_flat_weights,
    read_flat_weights,
    save_flat_weights,
    save_model_weights,
)
from keras_resnets.export.tfmot.launcher import prune_to_tflite, quantization_aware_training, run_in_tf_keras
from keras_resnets.export.tfmot.options import FinetuneOptions
from tests.harness import ROOT, run_under_tf_keras

TINY = dict(train_examples=96, eval_examples=32, batch_size=32, calibration_examples=16, verbose=0)


def resnet20(**overrides):
    return keras_resnets.create_model("resnet20", classes=10, classifier_activation=None, input_shape=(32, 32, 3),
                                      **overrides)


def randomize_batch_norm(model, rng):
    """Non-trivial moving statistics and gammas, so that a weight mix-up shows in the outputs."""
    for layer in keras_resnets.flatten(model).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.1, channels).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.1, channels).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))


def test_neutral_weights_round_trip_to_tf_keras_twin(tmp_path, rng):
    model = resnet20()
    randomize_batch_norm(model, rng)
    weights = str(tmp_path / "weights.npz")
    save_flat_weights(model, weights)
    arrays, spec = read_flat_weights(weights)
    assert spec["model"] == "resnet20" and spec["classes"] == 10 and spec["input_shape"] == [32, 32, 3]
    assert "stage2_block1_conv1/0" in arrays and "stage1_block1_bn1/3" in arrays
    images = rng.normal(size=(3, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "images.npy", images)
    run_in_tf_keras("predict", {"weights": weights, "images": str(tmp_path / "images.npy"),
                                "output": str(tmp_path / "out.npy")})
    expected = np.asarray(model(images, training=False))
    # float32 round-off of two BatchNorm implementations: ~1e-7 relative to logits of size ~30
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-5)
    # ... and back into a fresh Keras 3 model.
    fresh = resnet20()
    load_flat_weights(fresh, weights)
    assert np.max(np.abs(np.asarray(fresh(images, training=False)) - expected)) < 1e-6


def test_load_flat_weights_names_missing_extra_and_mismatched(tmp_path):
    weights = str(tmp_path / "weights.npz")
    save_flat_weights(resnet20(), weights)
    with pytest.raises(ValueError, match=r"missing from the file: stage1_block4_bn1/0.*extra in the file: none"):
        load_flat_weights(keras_resnets.create_model("resnet32", classes=10, input_shape=(32, 32, 3)), weights)
    with pytest.raises(ValueError, match=r"shape mismatches: predictions/0: file \(64, 10\) vs model \(64, 5\)"):
        load_flat_weights(keras_resnets.create_model("resnet20", classes=5, input_shape=(32, 32, 3)), weights)


def test_qat_gives_an_int8_only_tflite_that_runs(tmp_path):
    output = str(tmp_path / "qat.tflite")
    report = quantization_aware_training(resnet20(), output, FinetuneOptions(**TINY), ptq_baseline=False,
                                         report_path=str(tmp_path / "qat.json"))
    content = open(output, "rb").read()
    assert report["qat"]["float_operators"] == [] and litert.float_operators(content) == []
    assert "QUANTIZE" not in report["qat"]["operators"] and "CONV_2D" in report["qat"]["operators"]
    runner = litert.interpreter(content)
    (detail,) = runner.get_input_details()
    assert detail["dtype"] == np.int8 and runner.get_output_details()[0]["dtype"] == np.int8
    runner.set_tensor(detail["index"], np.zeros((1, 32, 32, 3), np.int8))
    runner.invoke()
    assert runner.get_tensor(runner.get_output_details()[0]["index"]).shape == (1, 10)
    assert 0.0 <= report["qat"]["int8_accuracy"] <= 1.0 and report["steps"] == 3
    # every activation quantizer of ResNet-20 (a ReLU or Add output, the BN outputs before an Add, the logits)
    assert report["range_calibration"]["quantizers"] >= 30 and report["range_calibration"]["batches"] == 8
    assert json.load(open(tmp_path / "qat.json"))["qat"]["bytes"] == len(content)


FINETUNE_MECHANICS = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    import tf_keras
    from keras_resnets.export.tfmot.finetune import apply_batch_norm_option, fit
    from keras_resnets.export.tfmot.options import FinetuneOptions
    from keras_resnets.export.tfmot.qat import _batch_norm_as_depthwise, calibrate_activation_ranges, quantize_flat_model

    # Range calibration: Dense (identity) -> ReLU, batches spanning [-s, s] for s = 1, 2, 3. Each ReLU output
    # range must end at the mean of the batch maxima (about 2), not tfmot's 6 nor the last batch's 3.
    inputs = tf_keras.Input((64,))
    outputs = tf_keras.layers.ReLU()(tf_keras.layers.Dense(64, use_bias=False, kernel_initializer="identity")(inputs))
    quantized = quantize_flat_model(tf_keras.Model(inputs, outputs))
    batches = np.stack([np.linspace(-s, s, 4 * 64, dtype="float32").reshape(4, 64) for s in (1.0, 2.0, 3.0)])
    result = calibrate_activation_ranges(quantized, tf.data.Dataset.from_tensor_slices((batches, np.zeros((3, 4)))))
    assert result == {"quantizers": 1, "batches": 3}, result
    (relu_max,) = [v.numpy() for v in quantized.weights if v.name.endswith("output_max:0")]
    (relu_min,) = [v.numpy() for v in quantized.weights if v.name.endswith("output_min:0")]
    assert abs(relu_max - 2.0) < 0.03 and relu_min == 0.0, (relu_min, relu_max)

    # freeze_batch_norm: BN keeps its statistics, gamma and beta while the conv trains; unfrozen, they move.
    def train(freeze):
        tf_keras.utils.set_random_seed(0)
        inputs = tf_keras.Input((8, 8, 3))
        x = tf_keras.layers.Conv2D(4, 3, name="conv")(inputs)
        x = tf_keras.layers.BatchNormalization(name="bn")(x)
        model = tf_keras.Model(inputs, tf_keras.layers.Dense(2)(tf_keras.layers.GlobalAveragePooling2D()(x)))
        before = [w.numpy() for w in model.get_layer("bn").weights] + [model.get_layer("conv").kernel.numpy()]
        options = FinetuneOptions(batch_size=4, train_steps=3, learning_rate=0.1, freeze_batch_norm=freeze, verbose=0)
        assert apply_batch_norm_option(model, options) == (1 if freeze else 0)
        data = tf.data.Dataset.from_tensor_slices((np.random.default_rng(0).normal(1, 2, (12, 8, 8, 3)).astype(
            "float32"), np.arange(12) % 2)).batch(4).repeat()
        fit(model, options, data, 3, 3, from_logits=True)
        after = [w.numpy() for w in model.get_layer("bn").weights] + [model.get_layer("conv").kernel.numpy()]
        return [np.array_equal(b, a) for b, a in zip(before, after)]

    assert train(freeze=True) == [True, True, True, True, False]  # gamma, beta, mean, variance fixed; kernel trained
    assert train(freeze=False) == [False, False, False, False, False]

    # A standalone BN's depthwise replacement computes the BN's inference output.
    bn = tf_keras.layers.BatchNormalization(epsilon=1e-3)
    bn.build((None, 5, 5, 6))
    rng = np.random.default_rng(1)
    for variable, low in ((bn.gamma, -2.0), (bn.beta, -1.0), (bn.moving_mean, -1.0), (bn.moving_variance, 0.1)):
        variable.assign(rng.uniform(low, 2.0, 6).astype("float32"))
    depthwise, weights = _batch_norm_as_depthwise(bn)
    depthwise.build((None, 5, 5, 6))
    depthwise.set_weights(weights)
    x = rng.normal(size=(2, 5, 5, 6)).astype("float32")
    np.testing.assert_allclose(depthwise(x).numpy(), bn(x, training=False).numpy(), rtol=1e-5, atol=1e-5)
    print("mechanics ok")
    """
)


EVERY_FAMILY_QUANTIZES = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    import keras_resnets
    from keras_resnets.export.converter import convert_int8
    from keras_resnets.export.litert import float_operators
    from keras_resnets.export.tfmot.qat import calibrate_activation_ranges, nudge_zero_gammas, quantize_flat_model

    images = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices((images, np.zeros((2, 4), "int64")))
    # SE (Multiply), ResNet-v2 and WRN (standalone BN), a pre-activation stem conv feeding BN and shortcut,
    # Res2Net (ChannelSplit), ReXNet (SE, SiLU, channel-padded shortcut), ResNeXt.
    for name in ["seresnet18", "resnetv2_18", "wrn_16_8", "preact_resnet110", "res2net50_26w_4s", "rexnet_100",
                 "resnext29_8x64d"]:
        flat = keras_resnets.flatten(keras_resnets.create_model(name, classes=10, input_shape=(32, 32, 3)))
        nudge_zero_gammas(flat)
        quantized = quantize_flat_model(flat)
        calibrate_activation_ranges(quantized, batches)
        content = convert_int8(quantized, None, "int8")
        assert float_operators(content) == [], (name, float_operators(content))
        print("int8 only", name)
    """
)


def test_every_family_quantizes_to_an_int8_only_tflite():
    assert run_under_tf_keras(EVERY_FAMILY_QUANTIZES, timeout=600).count("int8 only") == 7


def test_range_calibration_and_frozen_batch_norm_in_tf_keras():
    assert "mechanics ok" in run_under_tf_keras(FINETUNE_MECHANICS)


def test_pruning_to_half_leaves_zeros_in_the_tflite_and_compresses_better(tmp_path):
    # zero_init_last=False: a model whose last BN gammas are still 0 folds those convs to nothing, which would make
    # the unpruned baseline artificially small. It also exercises builder overrides.
    model = resnet20(zero_init_last=False)
    output = str(tmp_path / "pruned.tflite")
    report = prune_to_tflite(model, output, FinetuneOptions(**TINY), target_sparsity=0.5,
                             overrides={"zero_init_last": False})
    zeros = litert.kernel_zeros(open(output, "rb").read())
    assert len(zeros) == 20  # 19 convs + the classifier
    for name, (count, size) in zeros.items():
        assert count / size >= 0.49, name
    assert report["pruned"]["float_operators"] == []
    assert report["pruned"]["gzip_bytes"] < report["unpruned"]["gzip_bytes"]
    assert min(report["pruned"]["keras_kernel_sparsity"].values()) >= 0.49


def test_not_a_keras_resnets_model_is_one_clear_error(tmp_path):
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs))
    foreign = keras.Model(inputs, outputs, name="my_classifier")
    path = str(tmp_path / "foreign.keras")
    foreign.save(path)
    with pytest.raises(ValueError, match="is not a keras_resnets model.*not a registered model name"):
        quantization_aware_training(path, str(tmp_path / "out.tflite"))
    impostor = keras.Model(inputs, outputs, name="resnet20")  # a registered name, another architecture
    with pytest.raises(NotAKerasResnetsModelError, match="its layers differ from create_model"):
        prune_to_tflite(impostor, str(tmp_path / "out.tflite"))
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a Keras 3 .keras archive"):
        save_model_weights(str(garbage), str(tmp_path / "w.npz"))
    with pytest.raises(ValueError, match="is named 'resnet20' but its layers differ"):
        save_model_weights(resnet20(zero_init_last=True), str(tmp_path / "w.npz"))  # overrides not given
    assert not os.path.exists(tmp_path / "out.tflite")


def test_cli_reports_a_foreign_model_in_one_line(tmp_path):
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs))
    path = str(tmp_path / "foreign.keras")
    keras.Model(inputs, outputs, name="my_classifier").save(path)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tflite", "prune.py"), f"--model_path={path}",
         f"--output={tmp_path / 'out.tflite'}", "--dataset=sample", "--epochs=1"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error:" in result.stderr and "is not a keras_resnets model" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("task", ["qat", "prune"])
def test_flagfiles_parse_into_finetune_options(task):
    from absl import flags

    from keras_resnets.export.tfmot import flags as finetune_flags

    flag_values = flags.FlagValues()
    finetune_flags.define_flags(task, flag_values)
    config = os.path.join(ROOT, "tflite", "configs", f"cifar10_resnet20_{'qat' if task == 'qat' else 'prune50'}.cfg")
    flag_values(["prog", f"--flagfile={config}", "--model_path=m.keras", "--dataset=sample"])
    options = finetune_flags.options_from_flags(flag_values)
    assert options.dataset == "sample" and options.batch_size == 128 and options.learning_rate <= 0.002
    assert finetune_flags.overrides_from_flags(flag_values) is None
    if task == "prune":
        assert flag_values["target_sparsity"].value == 0.5
    with pytest.raises(ValueError, match="io_type must be one of"):
        FinetuneOptions(io_type="int4").validate()
