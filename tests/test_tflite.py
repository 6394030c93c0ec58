"""Every block type converts to float TFLite with built-in ops only and computes what Keras computes."""

import numpy as np
import pytest

import keras_resnets
from keras_resnets.export import operator_names, run_tflite, to_tflite
from tests.harness import random_images

FLEX_PREFIX = "Flex"

# (registry name or builder call, input size): one model per block type, small inputs to stay fast.
CASES = {
    "basic_v1_option_A": lambda: keras_resnets.create_model("resnet20"),
    "plain_flattened": lambda: keras_resnets.flatten(keras_resnets.create_model("plain20")),
    "basic_v1_deep_stem_avg_down": lambda: keras_resnets.create_model("resnet18d", input_shape=(64, 64, 3)),
    "bottleneck_v2_preact": lambda: keras_resnets.create_model("resnetv2_50d", input_shape=(64, 64, 3)),
    "grouped_conv_se": lambda: keras_resnets.create_model("seresnext50_32x4d", input_shape=(64, 64, 3)),
    "wide_preact_dropout": lambda: keras_resnets.WideResNet(10, 2, dropout_rate=0.3),
    "preact_placements_b_c_d": lambda: keras_resnets.create_model(
        "resnet50", placement="b", layers=(1, 1, 1, 1), input_shape=(64, 64, 3)
    ),
}


def assert_tflite_matches_keras(model, relative=1e-4):
    content = to_tflite(model)
    names = operator_names(content)
    assert not [name for name in names if name.startswith(FLEX_PREFIX)], names
    images = random_images(tuple(model.inputs[0].shape[1:]), batch=2)
    expected = np.asarray(model(images, training=False))
    actual = run_tflite(content, images)
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(actual - expected)) <= relative * scale
    return names


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_tflite_has_builtin_ops_and_matches_keras(case):
    names = assert_tflite_matches_keras(CASES[case]())
    if case == "grouped_conv_se":
        assert "CONV_2D" in names and "MEAN" in names and "LOGISTIC" in names
    if case == "basic_v1_option_A":
        assert "PAD" in names and "STRIDED_SLICE" in names


@pytest.mark.parametrize("placement", ["c", "d"])
def test_float_tflite_of_other_placements(placement):
    assert_tflite_matches_keras(keras_resnets.PreActResNet(20, "basic", placement=placement, shortcut="A"))
