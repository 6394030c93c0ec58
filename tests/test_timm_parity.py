"""Logits on timm weights match timm's: committed fixtures (no torch needed), and live timm when installed."""

import importlib.util

import numpy as np
import pytest

import keras_resnets
from tests.timm_fixtures import FIXTURES, load_fixture

TOLERANCE = 1e-4
FOUNDATION_FIXTURES = [
    "resnet_basic",
    "resnet_bottleneck",
    "resnet_d",
    "resnet_basic_d",
    "resnetv2_basic",
    "resnetv2_bottleneck",
    "resnetv2_d",
    "seresnet",
    "resnext",
    "wide_resnet",
]


def build_from_fixture(name):
    _, builder, kwargs, inputs, logits, weights = load_fixture(name)
    model = getattr(keras_resnets, builder)(input_shape=inputs.shape[1:], weights=weights, **kwargs)
    return model, inputs, logits


@pytest.mark.parametrize("name", FOUNDATION_FIXTURES)
def test_logits_match_timm_fixture(name):
    model, inputs, logits = build_from_fixture(name)
    ours = np.asarray(model(inputs, training=False))
    assert np.max(np.abs(ours - logits)) <= TOLERANCE


def test_weights_for_another_architecture_are_rejected_with_names():
    _, builder, kwargs, inputs, _, weights = load_fixture("resnet_bottleneck")
    kwargs["layers"] = (1, 1, 1, 1)  # one block fewer in stage 2: its tensors are left over
    with pytest.raises(ValueError, match=r"left over in the file: layer2\.1\.bn1\.bias"):
        getattr(keras_resnets, builder)(input_shape=inputs.shape[1:], weights=weights, **kwargs)


def test_missing_and_misshapen_tensors_are_named():
    _, builder, kwargs, inputs, _, weights = load_fixture("resnet_basic")
    kwargs["widths"] = (8, 16, 24, 40)
    with pytest.raises(ValueError, match=r"shape mismatches: layer4\.0\.conv1\.weight"):
        getattr(keras_resnets, builder)(input_shape=inputs.shape[1:], weights=weights, **kwargs)
    kwargs["widths"] = (8, 16, 24, 32)
    kwargs["attention"] = "se"
    with pytest.raises(ValueError, match=r"missing from the file: layer1\.0\.se\.fc1\.weight"):
        getattr(keras_resnets, builder)(input_shape=inputs.shape[1:], weights=weights, **kwargs)


def test_every_fixture_file_is_complete():
    for name in FOUNDATION_FIXTURES:
        for suffix in (".json", ".npz", ".safetensors"):
            assert (FIXTURES / f"{name}{suffix}").is_file()


LIVE_MODELS = [
    "resnet18",
    "resnet50",
    "resnet50d",
    "resnetv2_18",
    "resnetv2_50",
    "resnetv2_50d",
    "seresnet50",
    "resnext50_32x4d",
    "wide_resnet50_2",
    "rexnet_100",
    "rexnet_130",
    "res2net50_26w_4s",
    "res2next50",
    "res2net50d",
]
HAS_TIMM = importlib.util.find_spec("timm") is not None and importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(not HAS_TIMM, reason="live parity needs torch and timm, which the package never depends on")
@pytest.mark.parametrize("name", LIVE_MODELS)
def test_logits_match_live_timm(name, tmp_path):
    from tests.live_timm import timm_reference

    weights, inputs, logits = timm_reference(name, tmp_path)
    model = keras_resnets.create_model(name, weights=weights, classifier_activation=None)
    ours = np.asarray(model(inputs, training=False))
    error = float(np.max(np.abs(ours - logits)))
    print(f"{name}: max |keras - timm| = {error:.2e} (max |logit| {np.max(np.abs(logits)):.2f})")
    assert error <= TOLERANCE
