"""The studies at initialization (gradient flow, shattered gradients, rank), end to end at a tiny size.

The margins below were measured at these sizes over several seeds (the numbers in the comments); a study built
wrong (no shortcut in the residual nets, the rank of WX instead of f(WX)) falls outside them.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from keras_resnets import studies
from keras_resnets.backend import keras
from keras_resnets.layers.residual import ResidualBlock
from keras_resnets.studies import gradient_flow, rank, shattered_gradients
from keras_resnets.studies.common import StudyError
from keras_resnets.studies.flags import define_flags, settings_from_flags
from keras_resnets.studies.probe import run_watching_blocks, sample_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(name, output_dir, **settings):
    summary = studies.run(name, str(output_dir), **settings)
    with open(os.path.join(output_dir, "results.json")) as file:
        return json.load(file), summary


@pytest.fixture(scope="module")
def gradient_flow_run(tmp_path_factory):
    return _run("gradient_flow", tmp_path_factory.mktemp("gradient_flow"), depths=(56,), variants=("plain", "e"),
                batch_size=4)


@pytest.fixture(scope="module")
def shattered_run(tmp_path_factory):
    return _run("shattered_gradients", tmp_path_factory.mktemp("shattered"), depths=(1, 2, 4, 8, 16),
                repetitions=4, width=48, points=64, lags=4)


@pytest.fixture(scope="module")
def rank_run(tmp_path_factory):
    return _run("rank", tmp_path_factory.mktemp("rank"), ratios=(0.2, 0.5), repetitions=4, min_out_dim=48,
                max_out_dim=64, samples=256, network_layers=3, network_input_dim=4, network_output_dim=32,
                tolerances=(0.1, 1e-10), batch_size=2, image_size=32)


# ------------------------------------------------------------------------------------------- gradient flow


def test_gradient_flow_writes_results_figure_and_summary(gradient_flow_run):
    record, summary = gradient_flow_run
    assert record["options"]["seed"] == 0 and record["machine"]["keras_resnets"]
    entry = record["results"]["depths"]["56"]
    assert entry["block"] == "basic" and entry["units"] == 27
    assert all(len(entry["variants"][v]["log10_norms"]) == 27 for v in ("plain", "e"))
    assert record["results"]["figures"] == ["gradient_flow.png"]
    assert "depth 56" in summary and "plain" in summary


def test_plain_net_gradient_norms_span_more_decades_than_full_preactivation(gradient_flow_run):
    variants = gradient_flow_run[0]["results"]["depths"]["56"]["variants"]
    # Measured at depth 56, batch 4, seeds 0-1: plain 4.1-4.3 decades, (e) 2.4-2.6.
    assert variants["plain"]["log10_ratio"] > variants["e"]["log10_ratio"] + 1.0


def test_unit_by_unit_gradients_equal_one_backward_pass():
    keras.utils.set_random_seed(1)
    model = gradient_flow.build_network(20, "a")
    images, labels = sample_images(4)
    carried = gradient_flow.unit_gradient_log_norms(model, images, labels)["log10_norms"]
    with tf.GradientTape() as tape:
        logits, units = run_watching_blocks(model, images, lambda layer: isinstance(layer, ResidualBlock))
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    direct = [np.log10(float(tf.norm(gradient))) for gradient in tape.gradient(loss, [x for _, x, _ in units])]
    np.testing.assert_allclose(carried, direct, atol=1e-4)


@pytest.mark.parametrize("depth, block", [(20, "basic"), (110, "basic"), (164, "bottleneck"), (1001, "bottleneck"),
                                          (1202, "basic")])
def test_depth_picks_the_papers_unit(depth, block):
    assert gradient_flow.cifar_architecture(depth)[1] == block


@pytest.mark.parametrize("depth", [21, 100, 2, 0])
def test_a_depth_no_builder_makes_is_one_clear_error(depth):
    with pytest.raises(StudyError, match=r"No CIFAR ResNet has depth .*6n\+2.*9n\+2"):
        studies.options_for("gradient_flow", depths=(20, depth))


# -------------------------------------------------------------------------------------- shattered gradients


def test_shattered_gradients_writes_results_and_three_figures(shattered_run, tmp_path):
    record, summary = shattered_run
    results = record["results"]
    assert results["figures"] == ["gradients.png", "autocorrelation.png", "correlation_vs_depth.png"]
    assert len(results["kinds"]["residual"]["depths"]["16"]["acf_mean"]) == 4
    assert len(results["kinds"]["feedforward"]["depths"]["1"]["example_gradient"]) == 64
    assert "exponential fit" in summary and "power fit" in summary


def test_residual_gradients_stay_correlated_where_feedforward_ones_shatter(shattered_run):
    kinds = shattered_run[0]["results"]["kinds"]
    feedforward, residual = kinds["feedforward"]["depths"], kinds["residual"]["depths"]
    # Depth 1 nets are the same net; measured at depth 16, seeds 0-2: feed-forward -0.16..-0.13, residual 0.41-0.43.
    assert feedforward["1"]["lag1_mean"] == pytest.approx(residual["1"]["lag1_mean"])
    assert residual["16"]["lag1_mean"] > feedforward["16"]["lag1_mean"] + 0.3
    # Seeds 0-2: the exponential fits the feed-forward decay better, the power law the residual one.
    assert kinds["feedforward"]["fit"]["better"] == "exponential"
    assert kinds["residual"]["fit"]["better"] == "power"


def test_autocorrelation_of_a_smooth_and_a_white_signal():
    points = np.linspace(0, 1, 200)
    smooth = np.sin(2 * np.pi * points)[None]
    white = np.random.default_rng(0).standard_normal((50, 200))
    assert shattered_gradients.autocorrelation(smooth, 3)[0, 0] > 0.99
    assert abs(shattered_gradients.autocorrelation(white, 3)[:, 0].mean()) < 0.03


def test_decay_fits_recover_known_rates():
    depths = np.arange(1, 20)
    exponential = shattered_gradients.fit_decay(depths, 0.5**depths, np.full(19, 1e-9))
    power = shattered_gradients.fit_decay(depths, depths**-0.5, np.full(19, 1e-9))
    assert exponential["exponential"]["rate_per_layer"] == pytest.approx(0.5)
    assert power["power"]["exponent"] == pytest.approx(-0.5)
    assert (exponential["better"], power["better"]) == ("exponential", "power")


# --------------------------------------------------------------------------------------------------- rank


def test_rank_writes_results_and_figures(rank_run):
    record, summary = rank_run
    results = record["results"]
    assert results["figures"] == ["rank_vs_ratio.png", "rank_vs_expand_layers.png", "rexnet_block_ranks.png"]
    assert len(results["rexnet_100"]["blocks"]) == 16
    assert np.shape(results["rexnet_100"]["silu"]) == np.shape(results["rexnet_100"]["relu6"]) == (16, 2)
    assert "rexnet_100" in summary


def test_rank_is_taken_of_the_nonlinear_output(rank_run):
    layer = {name: np.asarray(stats["mean"]) for name, stats in rank_run[0]["results"]["single_layer"].items()}
    # A linear layer keeps rank d_in: the identity's normalized rank is the ratio (rounding d_in to an integer).
    np.testing.assert_allclose(layer["identity"][:, 1], [0.2, 0.5], atol=0.02)
    # At a tight tolerance any of these nonlinearities makes f(WX) full rank (measured: 1.0 at both ratios).
    for name in ("relu", "relu6", "elu", "silu", "leaky_relu"):
        np.testing.assert_allclose(layer[name][:, 1], 1.0)
    # At tolerance 0.1 SiLU keeps more rank than ReLU (measured at 48-64 channels: 0.58/0.86 vs 0.45/0.65).
    assert np.all(layer["silu"][:, 0] > layer["relu"][:, 0] + 0.05)


def test_more_expand_layers_keep_more_rank(rank_run):
    for name, stats in rank_run[0]["results"]["networks"].items():
        mean = np.asarray(stats["mean"])[:, 0]
        # Measured at tolerance 0.1, 3 layers 4 -> 32: 0.21-0.25 with no expand layer, 0.50-0.53 with two.
        assert mean[-1] > mean[0] + 0.15, name


def test_network_widths_spread_the_growth_over_the_expand_layers():
    assert rank.network_widths(4, 16, 128, 0) == [16, 16, 16, 128]
    assert rank.network_widths(4, 16, 128, 3) == [44, 72, 100, 128]
    assert rank.network_widths(4, 16, 128, 1) == [72, 72, 72, 128]


@pytest.mark.parametrize("ratios", [(0.0, 0.5), (0.5, 1.5), (-0.1,)])
def test_a_ratio_outside_zero_one_is_one_clear_error(ratios):
    with pytest.raises(StudyError, match=r"ratios \(d_in / d_out\) must each be in \(0, 1\]"):
        studies.options_for("rank", ratios=ratios)


# ------------------------------------------------------------------------------------------------ the CLI


def test_an_unknown_study_is_one_clear_error():
    with pytest.raises(StudyError, match="Unknown study 'gradients'; the studies are: .*gradient_flow"):
        studies.run("gradients", "unused")


def test_an_output_directory_that_cannot_be_written_is_one_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(StudyError, match="output_dir .* cannot be written"):
        studies.run("rank", str(blocker / "results"))


def test_cli_reports_an_unknown_study_in_one_line_with_exit_code_2(tmp_path):
    completed = subprocess.run([sys.executable, os.path.join(ROOT, "apps", "study.py"), "--study=gradients",
                                f"--output_dir={tmp_path}"], capture_output=True, text=True, cwd=ROOT)
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert completed.returncode == 2 and len(errors) == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert "Unknown study 'gradients'" in errors[0]


def test_list_flags_reach_the_study_typed_and_validated():
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    flag_values(["study", "--study=rank", "--ratios=0.5,2", "--repetitions=3"])
    settings = settings_from_flags("rank", flag_values)
    assert settings == {"ratios": (0.5, 2.0), "repetitions": 3}
    with pytest.raises(StudyError, match=r"must each be in \(0, 1\], got \[0.5, 2.0\]"):
        studies.options_for("rank", **settings)
    flag_values(["study", "--study=gradient_flow", "--depths=20,deep"])
    with pytest.raises(StudyError, match="--depths must be a list of int values"):
        settings_from_flags("gradient_flow", flag_values)
