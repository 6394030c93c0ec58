"""Registry-driven: every registered model meets the contract of tests/harness.py (exact parameters, forward,
flatten, `.keras` round trip, features_only), and one model of each family also converts to float TFLite with
built-in ops only, within 1e-4 of Keras."""

import os

import pytest

import keras_resnets
from tests.harness import check_registered_model

# The deepest nets repeat the blocks and stages of a shallower registered sibling (resnet110 / preact_resnet164 /
# resnet101 / resnet50d / resnetv2_101): their `.keras` round trip and features_only check take 1-4 minutes each
# on 2 cores and test no code their sibling's check does not, so CI checks their parameters, forward and flatten
# only, and KERAS_RESNETS_FULL_REGISTRY=1 adds the rest.
DEEPEST = {"resnet1202", "preact_resnet1001", "resnet200", "resnet152", "resnet152d", "resnetv2_152"}
FULL_REGISTRY = bool(os.environ.get("KERAS_RESNETS_FULL_REGISTRY"))


def tflite_representatives():
    """The smallest registered model (by reference parameters) of each family: a float TFLite conversion takes
    10-70 s a model on 2 cores, so the whole registry would add half an hour. The other block variants convert in
    tests/test_tflite.py, test_res2net.py and test_rexnet.py."""
    smallest = {}
    for name in keras_resnets.list_models():
        info = keras_resnets.model_info(name)
        size = info.reference_params if info.reference_params is not None else float("inf")
        if info.family not in smallest or size < smallest[info.family][0]:
            smallest[info.family] = (size, name)
    return {name for _, name in smallest.values()}


TFLITE_CHECKED = tflite_representatives()


def test_the_deepest_nets_have_registered_siblings():
    """What justifies the lighter check: each of the deepest nets shares its family with a shallower registered
    model that gets the whole check."""
    families = {keras_resnets.model_info(name).family for name in keras_resnets.list_models() if name not in DEEPEST}
    assert {keras_resnets.model_info(name).family for name in DEEPEST} <= families


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in DEEPEST else n for n in keras_resnets.list_models()]
)
def test_registered_model(name):
    check_registered_model(name, tflite=name in TFLITE_CHECKED, saving_and_features=FULL_REGISTRY or name not in DEEPEST)
