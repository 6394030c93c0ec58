"""Registry-driven: every registered model meets the contract of tests/harness.py (exact parameters, forward,
flatten, `.keras` round trip, features_only), and one model of each family also converts to float TFLite with
built-in ops only, within 1e-4 of Keras."""

import pytest

import keras_resnets
from tests.harness import check_registered_model

# The deepest nets take most of the suite's time on 2 cores; they are marked slow but still run in CI.
SLOW = {"resnet1202", "preact_resnet1001", "resnet200", "resnet152", "resnet152d", "resnetv2_152"}


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


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in keras_resnets.list_models()]
)
def test_registered_model(name):
    check_registered_model(name, tflite=name in TFLITE_CHECKED)

