"""Block layers on their own: structure per option, serialization, and use inside a user's model."""

import numpy as np
import pytest
import tensorflow as tf

import keras_resnets
from keras_resnets import layers
from keras_resnets.backend import keras
from tests.harness import assert_flatten_matches, assert_keras_roundtrip, random_images


def sublayer_names(block, shape):
    block.build(shape)
    sequence = block.preact_layers + block.residual_layers
    return [layer.name.removeprefix(block.name + "_") for layer in sequence], [
        layer.name.removeprefix(block.name + "_") for layer in block.post_layers
    ]


@pytest.mark.parametrize(
    "placement,branch,post",
    [
        ("a", ["conv1", "bn1", "act1", "conv2", "bn2"], ["out_act"]),
        ("b", ["conv1", "bn1", "act1", "conv2"], ["out_bn", "out_act"]),
        ("c", ["conv1", "bn1", "act1", "conv2", "bn2", "act2"], []),
        ("d", ["preact", "conv1", "bn1", "act1", "conv2", "bn2"], []),
        ("e", ["bn1", "act1", "conv1", "bn2", "act2", "conv2"], []),
    ],
)
def test_unit_placements_follow_he_2016_figure_4(placement, branch, post):
    block = layers.PreActBasicBlock(8, placement=placement, name="unit")
    assert sublayer_names(block, (None, 8, 8, 8)) == (branch, post)


@pytest.mark.parametrize("stride_in,strided", [("3x3", "conv2"), ("1x1", "conv1")])
def test_bottleneck_stride_position(stride_in, strided):
    block = layers.Bottleneck(4, strides=2, stride_in=stride_in, name="b")
    block.build((None, 8, 8, 16))
    strides = {l.name: l.strides for l in block.residual_layers if isinstance(l, keras.layers.Conv2D)}
    assert strides[f"b_{strided}"] == (2, 2)
    assert sum(s == (2, 2) for s in strides.values()) == 1


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("A", ["shortcut_pad"]),
        ("B", ["shortcut_conv", "shortcut_bn"]),
        ("C", ["shortcut_conv", "shortcut_bn"]),
        ("D", ["shortcut_pool", "shortcut_conv", "shortcut_bn"]),
    ],
)
def test_shortcut_types(kind, expected):
    block = layers.BasicBlock(16, strides=2, shortcut=kind, name="s")
    block.build((None, 8, 8, 8))
    assert [l.name.removeprefix("s_") for l in block.shortcut_layers] == expected
    same_shape = layers.BasicBlock(8, shortcut=kind, name="t")
    same_shape.build((None, 8, 8, 8))
    assert bool(same_shape.shortcut_layers) == (kind == "C")


def test_option_a_shortcut_subsamples_and_zero_pads():
    images = random_images((8, 8, 4))
    out = np.asarray(layers.SubsampleZeroPad(2, 4)(images))
    np.testing.assert_array_equal(out[..., :4], images[:, ::2, ::2, :])
    assert np.all(out[..., 4:] == 0) and out.shape == (2, 4, 4, 8)


def test_plain_block_has_no_shortcut():
    block = layers.BasicBlock(8, shortcut=None, name="p")
    block.build((None, 8, 8, 8))
    assert block.shortcut_layers is None
    model = keras_resnets.create_model("plain20")
    assert not any("add" in layer.name for layer in keras_resnets.flatten(model).layers)


def test_symmetric_padding_max_pool_equals_pytorch_padding():
    images = tf.constant(np.random.default_rng(1).normal(size=(2, 9, 10, 3)).astype("float32"))
    ours = keras.layers.MaxPooling2D(3, 2)(layers.SymmetricPadding2D(1)(images))
    torch_like = tf.nn.max_pool2d(
        tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-np.inf), 3, 2, "VALID"
    )
    np.testing.assert_array_equal(ours, torch_like)


def test_drop_path_drops_whole_samples_only_in_training():
    drop = layers.DropPath(0.5)
    ones = np.ones((256, 2, 2, 3), "float32")
    np.testing.assert_array_equal(drop(ones, training=False), ones)
    out = np.asarray(drop(ones, training=True))
    per_sample = out.reshape(256, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert 0.3 < np.mean(per_sample[:, 0] == 0) < 0.7


def test_zero_init_last_starts_the_branch_at_zero():
    block = layers.BasicBlock(8, zero_init_last=True, name="z")
    images = random_images((8, 8, 8))
    out = block(images, training=False)
    np.testing.assert_allclose(out, np.maximum(images, 0), atol=1e-6)


@pytest.mark.parametrize(
    "block",
    [
        layers.BasicBlock(16, strides=2, shortcut="D", drop_path_rate=0.1, name="basic"),
        layers.Bottleneck(8, strides=2, cardinality=4, base_width=8, attention="se", stride_in="1x1", name="bottleneck"),
        layers.PreActBottleneck(8, strides=2, placement="d", name="preact"),
        layers.PreActBasicBlock(16, dropout_rate=0.3, name="wide"),
        layers.Stem("deep", 32, name="stem"),
    ],
)
def test_block_in_a_user_model_serializes_and_flattens(block):
    inputs = keras.Input((16, 16, 16))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(block(inputs)))
    model = keras.Model(inputs, outputs)
    images = random_images((16, 16, 16))
    clone = type(block).from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    assert_flatten_matches(model, images)
    assert_keras_roundtrip(model, images)


def test_features_are_stride_tagged():
    backbone = keras_resnets.create_model("resnet18", features_only=True, input_shape=(64, 64, 3))
    features = backbone(random_images((64, 64, 3)))
    assert {key: value.shape[1] for key, value in features.items()} == {
        "STEM_S2": 32, "STAGE1_S4": 16, "STAGE2_S8": 8, "STAGE3_S16": 4, "STAGE4_S32": 2,
    }


def test_keras_applications_arguments():
    base = keras_resnets.create_model("resnet18", include_top=False, pooling="avg", input_shape=(64, 64, 3))
    assert base.output_shape == (None, 512)
    tensor = keras.Input((96, 96, 3))
    model = keras_resnets.create_model("resnet20", input_tensor=tensor, classes=7, classifier_activation=None)
    assert model.input_shape == (None, 96, 96, 3) and model.output_shape == (None, 7)
    probabilities = keras_resnets.create_model("resnet20")(random_images((32, 32, 3)))
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, rtol=1e-5)
