"""Bad input ends in one clear error that says what was wrong and what is allowed."""

import numpy as np
import pytest

import keras_resnets
from keras_resnets import layers
from keras_resnets.backend import keras


def test_unknown_model_name_suggests_close_names():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet5'\. Did you mean .*'resnet50'"):
        keras_resnets.create_model("resnet5")


@pytest.mark.parametrize("depth,block,rule", [(21, "basic", "6n\\+2"), (165, "bottleneck", "9n\\+2"), (2, "basic", "6n\\+2")])
def test_cifar_depth_must_fit_the_block(depth, block, rule):
    with pytest.raises(ValueError, match=rf"must be {rule} for n >= 1.*got {depth}"):
        keras_resnets.CifarResNet(depth, block)


def test_unknown_unit_placement_lists_the_five():
    with pytest.raises(ValueError, match=r"Unknown unit placement 'f'; allowed: 'a' .*'e'"):
        keras_resnets.create_model("preact_resnet164", placement="f")
    with pytest.raises(ValueError, match="Unknown unit placement"):
        layers.PreActBottleneck(16, placement="z")


def test_unknown_shortcut_type():
    with pytest.raises(ValueError, match=r"Unknown shortcut type 'E'; allowed: 'A'"):
        keras_resnets.create_model("resnet18", shortcut="E")


def test_option_a_cannot_remove_channels():
    block = layers.BasicBlock(8, shortcut="A", name="shrink")
    with pytest.raises(ValueError, match="Shortcut type 'A' can only add channels"):
        block(np.zeros((1, 8, 8, 16), "float32"))


@pytest.mark.parametrize("classes", [0, -3, 2.5])
def test_classes_must_be_positive(classes):
    with pytest.raises(ValueError, match=r"classes must be an integer >= 1"):
        keras_resnets.create_model("resnet20", classes=classes)


def test_input_shape_too_small_for_the_network():
    with pytest.raises(ValueError, match=r"too small for resnet50: the network downsamples by 32"):
        keras_resnets.create_model("resnet50", input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match=r"downsamples by 4"):
        keras_resnets.create_model("resnet20", input_shape=(2, 2, 3))


def test_input_shape_must_be_three_dimensional():
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, channels\)"):
        keras_resnets.create_model("resnet20", input_shape=(32, 32))


def test_unknown_pooling_and_block():
    with pytest.raises(ValueError, match=r"pooling must be one of"):
        keras_resnets.create_model("resnet18", include_top=False, pooling="sum")
    with pytest.raises(ValueError, match=r"Unknown block type 'triple'"):
        keras_resnets.ResNet(block="triple")


def test_missing_weights_file(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist"):
        keras_resnets.create_model("resnet20", weights=str(tmp_path / "nothing.weights.h5"))


def test_weights_file_of_another_architecture(tmp_path):
    path = str(tmp_path / "resnet20.weights.h5")
    keras_resnets.create_model("resnet20").save_weights(path)
    with pytest.raises(ValueError, match=r"does not match the architecture of resnet32"):
        keras_resnets.create_model("resnet32", weights=path)
    restored = keras_resnets.create_model("resnet20", weights=path)  # the right architecture still loads
    assert restored.name == "resnet20"


def test_unsupported_weights_suffix(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"0")
    with pytest.raises(ValueError, match=r"Unsupported weights file .*allowed endings"):
        keras_resnets.create_model("resnet20", weights=str(path))


@pytest.mark.parametrize("depth", [27, 30])
def test_wide_resnet_depth(depth):
    with pytest.raises(ValueError, match=r"Wide ResNet depth must be 6n\+4"):
        keras_resnets.WideResNet(depth, 2)


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_dropout_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"dropout_rate must be in \[0, 1\)"):
        keras_resnets.WideResNet(16, 2, dropout_rate=rate)
    with pytest.raises(ValueError, match=r"drop_path_rate must be in \[0, 1\)"):
        keras_resnets.create_model("resnet18", drop_path_rate=rate)


def test_cardinality_must_divide_the_width():
    with pytest.raises(ValueError, match=r"positive multiple of cardinality=32, got width=100"):
        layers.Bottleneck(64, cardinality=32, width=100)
    with pytest.raises(ValueError, match=r"cardinality must be a positive integer; got 0"):
        keras_resnets.ResNeXt(cardinality=0)


def test_unknown_attention_and_stem():
    with pytest.raises(ValueError, match=r"Unknown attention type 'cbam'"):
        keras_resnets.create_model("resnet18", attention="cbam", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"Unknown stem type 'tiny'"):
        keras_resnets.create_model("resnet18", stem="tiny")


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.BasicBlock(8, shortcut=None, drop_path_rate=0.1),
        lambda: layers.Bottleneck(8, shortcut=None, drop_path_rate=0.1),
        lambda: layers.PreActBottleneck(8, shortcut=None, drop_path_rate=0.1),
        lambda: layers.Res2NetBottleneck(8, shortcut=None, drop_path_rate=0.1),
        # ReXNet blocks have their partial residual only at stride 1 without fewer output channels.
        lambda: layers.LinearBottleneck(16, strides=2, drop_path_rate=0.1)(keras.Input((8, 8, 16))),
        lambda: layers.LinearBottleneck(8, drop_path_rate=0.1)(keras.Input((8, 8, 16))),
        lambda: keras_resnets.CifarResNet(20, shortcut=None, drop_path_rate=0.1),
        lambda: keras_resnets.CifarResNet(20, plain=True, drop_path_rate=0.1),
        lambda: keras_resnets.create_model("plain20", drop_path_rate=0.1),
        # One block: its stochastic-depth rate would be 0, yet the request is still refused, not ignored.
        lambda: keras_resnets.ResNet((1,), "basic", widths=(8,), shortcut=None, drop_path_rate=0.1),
        lambda: keras_resnets.Res2Net((1, 1, 1, 1), shortcut=None, drop_path_rate=0.1),
    ],
)
def test_drop_path_without_a_shortcut_is_one_clear_error(make):
    with pytest.raises(ValueError, match=r"drop_path_rate needs a shortcut: .* has none \(shortcut=None, a plain net"):
        make()


def test_rexnet_drops_paths_only_in_blocks_with_a_shortcut():
    model = keras_resnets.ReXNet(drop_path_rate=0.2, input_shape=(64, 64, 3))
    blocks = [layer for layer in model.layers if isinstance(layer, layers.LinearBottleneck)]
    assert [block.drop_path_rate > 0 for block in blocks] == [
        block.shortcut_layers is not None and index > 0 for index, block in enumerate(blocks)
    ]
    assert any(block.drop_path_rate > 0 for block in blocks)


@pytest.mark.parametrize("name", keras_resnets.list_models())
def test_every_builder_signature_names_all_it_accepts(name):
    """The signature is what rejects an unknown --model_overrides entry before training: it lists the builder's
    own arguments, those it forwards, and the keras.applications ones, with no catch-all **kwargs."""
    import dataclasses
    import inspect

    info = keras_resnets.model_info(name)
    parameters = inspect.signature(info.builder).parameters
    assert not any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values())
    fields = {field.name for field in dataclasses.fields(keras_resnets.models.ApplicationArgs)}
    assert fields | set(info.kwargs) <= set(parameters)
