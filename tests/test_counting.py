"""Parameter counts in the PyTorch convention and MACs against the papers."""

import json
import pathlib

import pytest

import keras_resnets

SHARED_PARAMS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "params.json"

# (name, builder overrides, paper GMACs): He et al. 2015 Table 1; Xie et al. 2017 Table 1. The 2015 paper's
# bottleneck figures (3.8/7.6/11.3) stride the first 1x1 conv; 4.1 is ResNet-50 with the 3x3 stride (timm's
# default, which gives 7.8 and 11.5 for ResNet-101/152).
PAPER_MACS = [
    ("resnet18", {}, 1.8),
    ("resnet34", {}, 3.6),
    ("resnet50", {}, 4.1),
    ("resnet50", {"stride_in": "1x1"}, 3.8),
    ("resnet101", {"stride_in": "1x1"}, 7.6),
    ("resnet152", {"stride_in": "1x1"}, 11.3),
    ("resnext50_32x4d", {}, 4.2),
]


@pytest.mark.parametrize("name,overrides,paper_gmacs", PAPER_MACS)
def test_macs_within_two_percent_of_paper(name, overrides, paper_gmacs):
    macs = keras_resnets.count_macs(keras_resnets.create_model(name, **overrides))
    assert abs(macs / 1e9 - paper_gmacs) / paper_gmacs <= 0.02


def test_stride_position_changes_macs_not_parameters():
    v1_5 = keras_resnets.create_model("resnet50")
    paper = keras_resnets.create_model("resnet50", stride_in="1x1")
    assert keras_resnets.count_params(v1_5) == keras_resnets.count_params(paper)
    assert keras_resnets.count_macs(paper) < keras_resnets.count_macs(v1_5)


def test_params_exclude_only_batchnorm_statistics():
    model = keras_resnets.create_model("resnet50", input_shape=(64, 64, 3))
    # params.json: resnet50 has 53,120 BN moving statistics, which Keras' own count includes.
    assert model.count_params() - keras_resnets.count_params(model) == 53120


def test_macs_need_a_fixed_input_size():
    model = keras_resnets.create_model("resnet18", include_top=False)
    with pytest.raises(ValueError, match="Pass input_shape"):
        keras_resnets.count_macs(model)
    assert keras_resnets.count_macs(model, input_shape=(224, 224, 3)) > 1.7e9


def test_registry_reference_counts_equal_the_shared_reference_file():
    assert SHARED_PARAMS.is_file(), f"the project's reference counts belong at {SHARED_PARAMS} (beside the repository)"
    reference = json.loads(SHARED_PARAMS.read_text())
    for name in keras_resnets.list_models():
        info = keras_resnets.model_info(name)
        expected = reference[info.dataset].get(name, {}).get("params")
        if expected is not None:
            assert info.reference_params == expected, name
