"""ReXNet: timm parity, exact sizes, paper MACs, the channel schedule, clear errors, tf_keras, and TFLite."""

import textwrap

import numpy as np
import pytest

import keras_resnets
from keras_resnets.export import convert, predict
from keras_resnets.models.rexnet import rexnet_blocks
from tests.harness import (assert_builtin_only, assert_tflite_matches_keras, random_images, relative_error,
                           run_under_tf_keras)
from tests.test_timm_parity import build_from_fixture

REXNETS = ["rexnet_100", "rexnet_130", "rexnet_150", "rexnet_200", "rexnet_300"]


def has_partial_residual(model):
    """True if some block adds its input to only part of its output channels (zero-pad + add)."""
    return any(layer.name.endswith("_shortcut_pad") for layer in keras_resnets.flatten(model).layers)


@pytest.mark.parametrize("name", ["rexnet_100", "rexnet_130"])
def test_logits_match_timm_fixture(name):
    model, inputs, logits = build_from_fixture(name)
    assert has_partial_residual(model)  # 15 -> 17 and 19 -> 22 channels in the fixtures
    error = float(np.max(np.abs(np.asarray(model(inputs, training=False)) - logits)))
    print(f"{name}: max |keras - timm| = {error:.2e}")
    assert error <= 1e-4


@pytest.mark.parametrize("name", REXNETS)
def test_parameter_count_is_exact(name):
    model = keras_resnets.create_model(name, input_shape=(64, 64, 3))
    assert keras_resnets.count_params(model) == keras_resnets.model_info(name).reference_params


@pytest.mark.parametrize("name", ["rexnet_100", "rexnet_150"])
def test_macs_match_the_paper(name):
    info = keras_resnets.model_info(name)
    macs = keras_resnets.count_macs(keras_resnets.create_model(name))
    print(f"{name}: {macs / 1e9:.3f} GMACs, paper {info.paper_macs / 1e9:.2f}")
    assert abs(macs / info.paper_macs - 1) <= 0.02


def test_channel_schedule_is_the_official_one():
    # 16 + 2 * 180 / 16 = 38.5 rounds half to even, to 38 (timm's KEYS.md list for rexnet_100).
    widths = [block[2] for block in rexnet_blocks(1.0, 1.0, 16, 180, 1 / 12, 1)]
    assert widths == [16, 27, 38, 50, 61, 72, 84, 95, 106, 117, 128, 140, 151, 162, 174, 185]
    # Below width 1.0 the stem and the first block keep 32 and 16 channels (checked against timm 1.0.31).
    half = keras_resnets.ReXNet(width_mult=0.5, input_shape=(64, 64, 3))
    assert half.get_layer("stem_conv").filters == 32
    assert half.get_layer("stage1_block1").filters == 16
    assert half.get_layer("stage6_block5").filters == 100
    assert half.get_layer("head_conv").filters == 640


def test_features_only_gives_stride_tagged_maps():
    model = keras_resnets.ReXNet(features_only=True, input_shape=(64, 64, 3))
    shapes = {key: tuple(tensor.shape[1:]) for key, tensor in model.output.items()}
    assert shapes == {
        "STEM_S2": (32, 32, 32),
        "STAGE1_S2": (32, 32, 16),
        "STAGE2_S4": (16, 16, 38),
        "STAGE3_S8": (8, 8, 61),
        "STAGE4_S16": (4, 4, 95),
        "STAGE5_S16": (4, 4, 128),
        "STAGE6_S32": (2, 2, 185),
    }


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(width_mult=0), "width_mult must be a number > 0"),
        (dict(width_mult=-1.0), "width_mult must be a number > 0"),
        (dict(depth_mult=0.0), "depth_mult must be a number > 0"),
        (dict(se_ratio=-0.1), r"se_ratio must be in \[0, 1\]"),
        (dict(se_ratio=1.5), r"se_ratio must be in \[0, 1\]"),
        (dict(head_dropout_rate=1.0), r"head_dropout_rate must be in \[0, 1\)"),
        (dict(head_dropout_rate=-0.2), r"head_dropout_rate must be in \[0, 1\)"),
        (dict(drop_path_rate=1.0), r"drop_path_rate must be in \[0, 1\)"),
        (dict(activation="swishy"), "activation must be a Keras activation name such as 'silu' or 'relu6', got"),
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_resnets.ReXNet(input_shape=(64, 64, 3), **kwargs)


SMALL = dict(depth_mult=0.25, initial_chs=8, final_chs=16, classes=10, classifier_activation=None)


def test_activation_is_the_stem_expansion_and_head_nonlinearity():
    from keras_resnets.layers.rexnet import LinearBottleneck

    silu = keras_resnets.ReXNet(input_shape=(64, 64, 3), **SMALL)
    relu6 = keras_resnets.ReXNet(input_shape=(64, 64, 3), activation="relu6", **SMALL)
    assert relu6.count_params() == silu.count_params()
    for model, name in ((silu, "silu"), (relu6, "relu6")):
        assert [model.get_layer(f"{part}_act").get_config()["activation"] for part in ("stem", "head")] == [name] * 2
        assert {layer.activation for layer in model.layers if isinstance(layer, LinearBottleneck)} == {name}


def test_small_rexnet_runs_under_tf_keras():
    code = textwrap.dedent(
        f"""
        import numpy as np
        import keras_resnets
        from keras_resnets.backend import IS_LEGACY_KERAS
        assert IS_LEGACY_KERAS
        model = keras_resnets.ReXNet(input_shape=(32, 32, 3), drop_path_rate=0.1, **{SMALL!r})
        images = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
        outputs = model(images, training=False)
        flat = keras_resnets.flatten(model)
        np.testing.assert_allclose(flat(images, training=False), outputs, atol=1e-5)
        model(images, training=True)
        print("OK", tuple(outputs.shape), keras_resnets.count_params(model))
        """
    )
    assert "OK (2, 10)" in run_under_tf_keras(code)


@pytest.fixture(scope="module")
def fixture_model():
    """The rexnet_100 fixture: real BN statistics and two partial residuals (15 -> 17, 19 -> 22 channels)."""
    model, inputs, _ = build_from_fixture("rexnet_100")
    assert has_partial_residual(model)
    return model, inputs


def test_tflite_float32_has_builtin_ops_only_and_matches_keras(fixture_model):
    model, inputs = fixture_model
    images = np.concatenate([inputs, random_images(inputs.shape[1:], batch=2, seed=1)])
    operators = assert_tflite_matches_keras(model, images)
    assert {"PAD", "ADD", "DEPTHWISE_CONV_2D"} <= set(operators)  # the partial residual is Pad + Add


def test_tflite_full_int8_converts_with_builtin_ops(fixture_model):
    model, inputs = fixture_model
    calibration = np.random.default_rng(2).normal(size=(16, *inputs.shape[1:])).astype("float32")  # inputs ~ N(0, 1)
    flatbuffer = convert(model, "int8", calibration=calibration)  # int8 in and out
    assert_builtin_only(flatbuffer)
    actual = predict(flatbuffer, inputs)  # quantizes the inputs, dequantizes the outputs
    error = relative_error(actual, model(inputs, training=False))
    print(f"TFLite int8: max error {error:.2%} of the largest logit")
    assert error <= 0.1
