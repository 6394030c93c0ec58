"""Registry-driven: every registered model builds, matches its reference parameter count, runs, flattens,
and survives a `.keras` round trip."""

import pytest

import keras_resnets
from tests.harness import check_registered_model

# The deepest nets take most of the suite's time on 2 cores; they are marked slow but still run in CI.
SLOW = {"resnet1202", "preact_resnet1001", "resnet200", "resnet152", "resnet152d", "resnetv2_152"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in keras_resnets.list_models()]
)
def test_registered_model(name):
    check_registered_model(name)
