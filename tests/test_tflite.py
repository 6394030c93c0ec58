"""Every block type converts to float TFLite with built-in ops only and computes what Keras computes."""

import pytest

import keras_resnets
from keras_resnets.export import convert, operator_names, predict
from tests.harness import assert_tflite_matches_keras, random_images, relative_error

# (registry name or builder call, input size): one model per block type, small inputs to stay fast.
CASES = {
    "basic_v1_option_A": lambda **kw: keras_resnets.create_model("resnet20", **kw),
    "plain_flattened": lambda **kw: keras_resnets.flatten(keras_resnets.create_model("plain20", **kw)),
    "basic_v1_deep_stem_avg_down": lambda **kw: keras_resnets.create_model("resnet18d", input_shape=(64, 64, 3), **kw),
    "bottleneck_v2_preact": lambda **kw: keras_resnets.create_model("resnetv2_50d", input_shape=(64, 64, 3), **kw),
    "grouped_conv_se": lambda **kw: keras_resnets.create_model("seresnext50_32x4d", input_shape=(64, 64, 3), **kw),
    "wide_preact_dropout": lambda **kw: keras_resnets.WideResNet(10, 2, dropout_rate=0.3, **kw),
    "preact_placements_b_c_d": lambda **kw: keras_resnets.create_model(
        "resnet50", placement="b", layers=(1, 1, 1, 1), input_shape=(64, 64, 3), **kw
    ),
}


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


# Integer-only kernels exist for all of these in TFLite's built-in set (and XNNPACK); SPLIT and CONCATENATION
# (Res2Net) and the depthwise conv and partial residual (ReXNet) are covered by their own test files.
INT8_OPS = {"ADD", "AVERAGE_POOL_2D", "CONV_2D", "FULLY_CONNECTED", "LOGISTIC", "MAX_POOL_2D", "MEAN",
            "MIRROR_PAD", "MUL", "PAD", "QUANTIZE", "DEQUANTIZE", "STRIDED_SLICE", "DELEGATE"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_full_int8_has_builtin_integer_ops_and_agrees_with_keras(case):
    model = CASES[case](classifier_activation=None)  # logits: an int8 softmax of 1000 untrained classes is all 0
    images = random_images(tuple(model.inputs[0].shape[1:]), batch=8)
    content = convert(model, "int8", calibration=images, io_type="float32")
    assert set(operator_names(content)) <= INT8_OPS, operator_names(content)
    # Untrained nets on calibration images: a loose bound that still catches a wrong graph.
    assert relative_error(predict(content, images), model(images, training=False)) <= 0.3
