"""Res2Net / Res2NeXt: timm parity, timm's stage/normal rule, paper MACs, clear errors, tf_keras, and TFLite."""

import textwrap

import numpy as np
import pytest

import keras_resnets
from keras_resnets.backend import keras
from keras_resnets.layers import Bottleneck, HierarchicalSplit, Res2NetBottleneck
from keras_resnets.models.resnet import timm_resnet_v1_mapping
from tests.harness import (assert_flatten_matches, assert_keras_roundtrip, assert_tflite_matches_keras, random_images,
                           run_under_tf_keras)
from tests.test_timm_parity import TOLERANCE, build_from_fixture
from tests.timm_fixtures import FIXTURES

RES2NET_FIXTURES = ["res2net", "res2next", "res2net_d"]


@pytest.mark.parametrize("name", RES2NET_FIXTURES)
def test_logits_match_timm_fixture(name):
    model, inputs, logits = build_from_fixture(name)
    error = float(np.max(np.abs(np.asarray(model(inputs, training=False)) - logits)))
    print(f"{name}: max |keras - timm| = {error:.2e}")
    assert error <= TOLERANCE
    for suffix in (".json", ".npz", ".safetensors"):
        assert (FIXTURES / f"{name}{suffix}").is_file()


def test_stage_blocks_follow_timm_is_first():
    """timm: a block is a "stage" block when it strides or has a downsample (so also layer1's first block)."""
    res2net, _, _ = build_from_fixture("res2net")  # layer1.0 projects 64 -> 32 channels at stride 1
    res2next, _, _ = build_from_fixture("res2next")  # layer1.0 keeps 64 channels: no projection
    assert res2net.get_layer("stage1_block1").split_type == "stage"
    assert res2net.get_layer("stage2_block2").split_type == "normal"
    assert res2next.get_layer("stage1_block1").split_type == "normal"
    assert res2next.get_layer("stage2_block1").split_type == "stage"


def test_split_layers_map_to_timm_keys():
    mapping = timm_resnet_v1_mapping(avg_down=False)
    assert mapping("stage2_block1_split_conv1") == "layer2.0.convs.0"
    assert mapping("stage4_block3_split_bn7") == "layer4.2.bns.6"
    assert mapping("stage2_block1_conv3") == "layer2.0.conv3"


@pytest.mark.parametrize(
    "name, macs, paper",
    # `macs`: torch.utils.flop_counter.FlopCounterMode / 2 on timm.create_model(name) at 224 (conv + linear).
    [("res2net50_26w_4s", 4_255_166_464, 4.2e9), ("res2net50_26w_8s", 8_335_880_192, 8.3e9)],
)
def test_macs_match_timm_and_paper(name, macs, paper):
    info = keras_resnets.model_info(name)
    assert info.paper_macs == paper
    counted = keras_resnets.count_macs(keras_resnets.create_model(name))
    print(f"{name}: {counted / 1e9:.3f} GMACs, paper {paper / 1e9:.1f}G ({counted / paper - 1:+.1%})")
    assert counted == macs
    assert abs(counted / paper - 1) <= 0.02


def test_se_res2net_matches_timm_size():
    # timm.models.resnet.ResNet(block=Bottle2neck, layers=[3, 4, 6, 3], base_width=26,
    #     block_args=dict(scale=4, attn_layer=get_attn("se"))): 28,230,112 parameters.
    model = keras_resnets.create_model("seres2net50", input_shape=(64, 64, 3))
    assert keras_resnets.count_params(model) == 28_230_112


def _single_block_model(block, input_shape=(16, 16, 32)):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, block(inputs))


def test_block_options_flatten_and_round_trip():
    block = Res2NetBottleneck(
        8, strides=2, scale=3, base_width=32, cardinality=2, attention="se", drop_path_rate=0.1, name="blk"
    )
    model = _single_block_model(block)
    assert block.split_type == "stage" and model.output_shape == (None, 8, 8, 32)
    images = random_images((16, 16, 32))
    flat = assert_flatten_matches(model, images)
    assert {"blk_split_chunk", "blk_split_pool", "blk_split_conv2", "blk_se_fc1"} <= {l.name for l in flat.layers}
    assert_keras_roundtrip(model, images)
    restored = Res2NetBottleneck.from_config(block.get_config())
    assert restored.get_config() == block.get_config()


def test_scale_one_is_a_plain_bottleneck():
    """With one group there is nothing to split: one 3x3 conv over all channels (as timm: max(1, scale - 1))."""
    res2 = _single_block_model(Res2NetBottleneck(8, scale=1, base_width=64, name="res2"))
    plain = _single_block_model(Bottleneck(8, base_width=64, name="plain"))
    assert keras_resnets.count_params(res2) == keras_resnets.count_params(plain)
    assert_flatten_matches(res2, random_images((16, 16, 32)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Res2NetBottleneck(64, scale=0), r"scale must be a positive integer; got 0"),
        (lambda: Res2NetBottleneck(64, scale=2.5), r"scale must be a positive integer; got 2.5"),
        (lambda: Res2NetBottleneck(1, base_width=26), r"int\(filters \* base_width / 64\) \* cardinality must be >= 1"),
        (lambda: Res2NetBottleneck(64, placement="e"), r"placements 'a'-'d'"),
        (lambda: HierarchicalSplit(4, split_type="first"), r"Unknown split_type 'first'; allowed: 'normal'"),
        (lambda: _single_block_model(HierarchicalSplit(3, name="s"), (8, 8, 16)), r"16 channels must split into"),
        (lambda: _single_block_model(HierarchicalSplit(2, cardinality=3, name="s"), (8, 8, 16)), r"cardinality=3"),
        (lambda: keras_resnets.Res2Net(scale=0), r"scale must be a positive integer; got 0"),
    ],
)
def test_bad_arguments_raise_one_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_res2net_runs_under_tf_keras():
    """Fixture parity, flatten and a training step's forward under tf_keras, in its own process."""
    code = textwrap.dedent(
        """
        import numpy as np
        import tf_keras
        import keras_resnets
        from keras_resnets.backend import IS_LEGACY_KERAS
        from tests.test_timm_parity import build_from_fixture
        assert IS_LEGACY_KERAS
        for name in ("res2net", "res2next"):
            model, inputs, logits = build_from_fixture(name)
            assert isinstance(model, tf_keras.Model)
            outputs = model(inputs, training=False).numpy()
            flat = keras_resnets.flatten(model)
            assert np.max(np.abs(flat(inputs, training=False).numpy() - outputs)) < 1e-5
            print("OK", name, f"{np.max(np.abs(outputs - logits)):.2e}")
        model = keras_resnets.Res2Net((1, 1, 1, 1), widths=(8, 8, 8, 8), input_shape=(32, 32, 3), classes=3,
                                      drop_path_rate=0.1)
        model(np.zeros((2, 32, 32, 3), "float32"), training=True)
        print("OK training")
        """
    )
    stdout = run_under_tf_keras(code)
    errors = [float(line.split()[-1]) for line in stdout.splitlines() if line.startswith("OK res2")]
    assert len(errors) == 2 and max(errors) <= TOLERANCE, stdout
    assert "OK training" in stdout


@pytest.mark.parametrize("name", ["res2net", "res2next"])
def test_tflite_float32_has_builtin_ops_only_and_matches_keras(name):
    model, inputs, _ = build_from_fixture(name)
    images = np.concatenate([inputs, random_images(inputs.shape[1:], batch=2, seed=1)])
    operators = assert_tflite_matches_keras(model, images)
    assert {"SPLIT", "CONCATENATION", "AVERAGE_POOL_2D", "CONV_2D"} <= set(operators), operators
