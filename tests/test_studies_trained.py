"""The trained-network studies: degradation, placement, lesion and paths, on tiny trained fixtures.

tests/fixtures/trained/ holds a ResNet-14 and a plain-14 (widths 8/16/32, 6 units) trained by the training library
on the shipped CIFAR-10 sample (tests/fixtures/make_trained_fixtures.py regenerates them). Studies that train are
tested with a stand-in for `keras_resnets.training.train` that writes what a run directory holds.
"""

import csv
import dataclasses
import itertools
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_resnets
import keras_resnets.training
from keras_resnets import studies
from keras_resnets.backend import keras
from keras_resnets.graph import replay
from keras_resnets.layers.base import apply_sequence
from keras_resnets.studies import StudyError, evaluation, lesion, paths, runs, surgery

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINED = os.path.join(ROOT, "tests", "fixtures", "trained")


@pytest.fixture(scope="module")
def resnet():
    return runs.load_model(os.path.join(TRAINED, "resnet14"))


@pytest.fixture(scope="module")
def test_data():
    return evaluation.test_images(os.path.join(TRAINED, "resnet14"), 200)


# ------------------------------------------------------------------------------------------------ the unit API

@pytest.mark.parametrize("placement,shortcut",
                         [("a", "A"), ("b", "B"), ("c", "A"), ("d", "B"), ("e", "B"), ("a", None)])
def test_unit_branches_add_up_to_the_unit(placement, shortcut, rng):
    unit = keras_resnets.layers.BasicBlock(8, strides=2, placement=placement, shortcut=shortcut, name="unit")
    x = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    expected = unit(x).numpy()
    shortcut_part, residual = unit.branches(x)
    total = residual if shortcut_part is None else shortcut_part + residual
    assert (shortcut_part is None) == (shortcut is None)
    np.testing.assert_allclose(apply_sequence(unit.post_layers, total).numpy(), expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------------- surgery

def test_rebuilt_model_shares_the_trained_layers(resnet, test_data):
    images = test_data[0][:8]
    copy = surgery.rebuild(resnet, {})
    np.testing.assert_array_equal(copy(images, training=False).numpy(), resnet(images, training=False).numpy())
    assert copy.get_layer("stage2_block2") is resnet.get_layer("stage2_block2")


def test_units_in_data_flow_order_with_downsampling_marked(resnet):
    units = surgery.residual_units(resnet)
    assert [u.name for u in units] == [f"stage{s}_block{b}" for s in (1, 2, 3) for b in (1, 2)]
    assert [u.name for u in units if u.downsamples] == ["stage2_block1", "stage3_block1"]


def test_deleting_a_unit_costs_less_than_cutting_its_branch_and_shortcut(resnet, test_data):
    images, labels = test_data
    intact = evaluation.error_rate(resnet, images, labels)
    units = {unit.name: unit for unit in surgery.residual_units(resnet)}
    for unit in (units["stage1_block2"], units["stage3_block2"]):
        deleted = surgery.delete_units(resnet, [unit.name])
        assert deleted(images[:2], training=False).shape == resnet(images[:2], training=False).shape
        cut = surgery.rebuild(resnet, {unit.name: lambda x, layer=unit.layer: keras.ops.zeros_like(layer(x))})
        deleted_cost = abs(evaluation.error_rate(deleted, images, labels) - intact)
        cut_cost = evaluation.error_rate(cut, images, labels) - intact
        assert deleted_cost < cut_cost, unit.name


def test_deleted_plain_unit_becomes_the_option_a_identity():
    plain = runs.load_model(os.path.join(TRAINED, "plain14"))
    units = {u.name: u for u in surgery.residual_units(plain)}
    x = keras.Input((16, 16, 8))
    kept = surgery.bypass(units["stage2_block2"].layer, keras.Input((16, 16, 16)))
    padded = surgery.bypass(units["stage2_block1"].layer, x)
    assert tuple(kept.shape[1:]) == (16, 16, 16) and tuple(padded.shape[1:]) == (8, 8, 16)
    ones = np.ones((1, 16, 16, 8), "float32")
    out = keras.Model(x, padded)(ones).numpy()
    assert np.all(out[..., :8] == 1) and np.all(out[..., 8:] == 0)


def test_swapping_a_pair_twice_restores_the_model(resnet, test_data):
    images = test_data[0][:8]
    pairs = [("stage1_block1", "stage1_block2")]
    once = surgery.swap_units(resnet, pairs)
    twice = surgery.swap_units(once, pairs)
    original = resnet(images, training=False).numpy()
    assert not np.allclose(once(images, training=False).numpy(), original)
    np.testing.assert_array_equal(twice(images, training=False).numpy(), original)


# ------------------------------------------------------------------------------------------------------ paths

def test_path_length_histogram_is_binomial(resnet):
    units = surgery.residual_units(resnet)
    assert paths.path_length_counts(units) == [math.comb(6, k) for k in range(7)]
    plain = surgery.residual_units(runs.load_model(os.path.join(TRAINED, "plain14")))
    assert paths.path_length_counts(plain) == [0] * 6 + [1]  # one path, through every unit


def test_every_unit_on_the_shortcut_gives_the_identity_network_gradient(rng):
    # One stage of identity shortcuts and full pre-activation units: nothing follows the additions, so the
    # identity network passes the gradient at the last unit's output to the first unit's input unchanged.
    model = keras_resnets.CifarResNet(20, widths=(8,), stem_chs=8, placement="e", classifier_activation=None)
    sampler = paths.PathGradients(model)
    images = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    at_input, at_output, _ = sampler.gradients(images, np.array([1, 2, 3, 4]), np.zeros(3))
    assert np.abs(at_output.numpy()).max() > 0
    np.testing.assert_array_equal(at_input.numpy(), at_output.numpy())


def test_paths_of_all_lengths_add_up_to_the_true_gradient(rng):
    model = keras_resnets.CifarResNet(8, widths=(4, 8, 16), stem_chs=4, classifier_activation=None)
    sampler = paths.PathGradients(model)
    images, labels = rng.normal(size=(4, 32, 32, 3)).astype("float32"), np.array([0, 1, 2, 3])
    first = {}
    with tf.GradientTape() as tape:
        def call_layer(layer, args, kwargs):
            if layer.name == "stage1_block1":
                tape.watch(args[0])
                first["input"] = args[0]
            return layer(*args, **kwargs)
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
            labels, replay(model, tf.constant(images), call_layer), from_logits=True))
    true = tape.gradient(loss, first["input"]).numpy()
    total = sum(sampler.gradients(images, labels, gates)[0].numpy() for gates in itertools.product((0, 1), repeat=3))
    np.testing.assert_allclose(total, true, rtol=1e-4, atol=1e-6 * np.abs(true).max())


def test_each_image_takes_its_own_path(rng):
    model = keras_resnets.CifarResNet(8, widths=(4, 8, 16), stem_chs=4, classifier_activation=None)
    sampler = paths.PathGradients(model)
    images, labels = rng.normal(size=(2, 32, 32, 3)).astype("float32"), np.array([0, 1])
    gates = np.array([[1, 0, 1], [0, 1, 0]])
    together = sampler.input_gradient_norms(images, labels, gates)
    alone = [sampler.input_gradient_norms(images[i:i + 1], labels[i:i + 1], gates[i])[0] for i in (0, 1)]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    assert not np.isclose(*sampler.input_gradient_norms(images[:1].repeat(2, 0), labels[:1].repeat(2), gates))


def test_effective_range_is_the_shortest_window_with_the_mass():
    assert paths.effective_range([0, 1, 8, 1, 0], 0.8) == (2, 2)
    assert paths.effective_range([0, 1, 8, 1, 0], 0.9) == (1, 2)
    assert paths.effective_range([1, 1, 1, 1], 1.0) == (0, 3)


def test_paths_study_end_to_end(tmp_path):
    studies.run("paths", str(tmp_path), runs_dir=TRAINED, resnet="resnet14", test_images=8, draws=2)
    record = json.loads((tmp_path / "results.json").read_text())["results"]
    assert record["path_length_counts"] == record["binomial"] == [math.comb(6, k) for k in range(7)]
    first, last = record["effective_range"]
    assert 0 <= first <= last <= 6
    assert len(record["gradient_magnitude"][3]) == 2 and len(record["gradient_magnitude"][0]) == 1
    assert (tmp_path / "paths.png").stat().st_size > 10_000


# ----------------------------------------------------------------------------------------------------- lesion

def test_lesion_study_end_to_end(tmp_path):
    studies.run("lesion", str(tmp_path), runs_dir=TRAINED, resnet="resnet14", plain="plain14", test_images=50,
                draws=1, max_k=1)
    record = json.loads((tmp_path / "results.json").read_text())["results"]
    single = record["single_deletion"]
    assert [row["downsamples"] for row in single["resnet"]] == [False, False, True, False, True, False]
    assert len(single["plain"]) == 6
    assert record["random_deletions"]["k"] == [1] and np.shape(record["random_deletions"]["errors"]) == (1, 1)
    assert record["swaps"]["pairs"] == [1]  # only stage 1 has two units of one shape
    assert (tmp_path / "lesion.png").stat().st_size > 10_000


def test_swap_pairs_are_disjoint_and_of_one_shape(resnet, rng):
    groups = lesion.swap_groups(surgery.residual_units(resnet))
    assert groups == [["stage1_block1", "stage1_block2"]]
    pairs = lesion.random_pairs([["a", "b", "c", "d"], ["e", "f"]], 3, rng)
    names = [name for pair in pairs for name in pair]
    assert len(set(names)) == 6 and all(set(pair) <= set("abcd") or set(pair) == set("ef") for pair in pairs)


def _copy_run(tmp_path, label, as_label=None):
    target = tmp_path / (as_label or label)
    shutil.copytree(os.path.join(TRAINED, label), target)
    return target


def test_run_directory_without_a_model_is_an_error(tmp_path):
    os.remove(_copy_run(tmp_path, "resnet14") / "model.keras")
    _copy_run(tmp_path, "plain14")
    with pytest.raises(StudyError, match="has no model.keras .*unfinished run.*apps/train.py"):
        studies.run("lesion", str(tmp_path / "out"), runs_dir=str(tmp_path), resnet="resnet14", plain="plain14")


def test_model_without_residual_units_is_an_error(tmp_path):
    run_dir = _copy_run(tmp_path, "resnet14")
    inputs = keras.Input((32, 32, 3))
    flat = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs)))
    keras.Model(inputs, flat, name="convnet").save(run_dir / "model.keras")
    with pytest.raises(StudyError, match="'convnet' has no residual units"):
        studies.run("paths", str(tmp_path / "out"), runs_dir=str(tmp_path), resnet="resnet14")


def test_plain_net_in_place_of_the_resnet_is_an_error(tmp_path):
    with pytest.raises(StudyError, match="is not a ResNet.*--resnet"):
        studies.run("lesion", str(tmp_path), runs_dir=TRAINED, resnet="plain14", plain="plain14", test_images=10)


def test_k_larger_than_the_number_of_units_is_an_error(tmp_path):
    with pytest.raises(StudyError, match="--max_k=7 is larger than the 6 residual units.*allowed: 1 to 6"):
        studies.run("lesion", str(tmp_path), runs_dir=TRAINED, resnet="resnet14", plain="plain14", test_images=10,
                    max_k=7)


def test_cli_reports_a_missing_model_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "apps/study.py", "--study=lesion", f"--output_dir={tmp_path / 'out'}",
         f"--runs_dir={tmp_path}", "--resnet=nothing_here"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: Run directory")
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------- degradation and placement

@pytest.fixture
def stand_in_trainer(monkeypatch):
    """Replaces the training library's `train` by one that writes a finished run directory: run.json as the
    training app writes it, a metrics.csv whose errors fall with depth for ResNets and rise for plain nets, and
    an empty model.keras, then metrics.json; returns the configs it was given."""
    calls = []

    def train(config):
        calls.append(config)
        os.makedirs(config.model_dir, exist_ok=True)
        with open(os.path.join(config.model_dir, runs.RUN_FILE), "w") as file:
            json.dump({"model": config.model, "config": dataclasses.asdict(config)}, file, default=str)
        depth = int(config.model.lstrip("resnetplain"))
        error = 0.3 + (depth if config.model.startswith("plain") else -depth) / 1000
        with open(os.path.join(config.model_dir, runs.METRICS_FILE), "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["epoch", "accuracy", "loss", "val_accuracy"])
            for epoch in range(config.epochs):
                writer.writerow([epoch, 1 - error - 0.1 / (epoch + 1), 1.0, 1 - error - 0.05])
        open(os.path.join(config.model_dir, runs.MODEL_FILE), "w").close()
        with open(os.path.join(config.model_dir, runs.FINISHED_FILE), "w") as file:
            json.dump({"model": config.model}, file)

    monkeypatch.setattr(keras_resnets.training, "train", train)
    return calls


def test_degradation_trains_missing_runs_with_one_recipe_then_reads_them(tmp_path, stand_in_trainer):
    settings = dict(runs_dir=str(tmp_path / "runs"), dataset="sample", epochs=3,
                    models=("resnet56", "plain20", "plain56"))
    studies.run("degradation", str(tmp_path / "out"), **settings)
    assert [c.model for c in stand_in_trainer] == ["plain20", "resnet56", "plain56"]
    for config in stand_in_trainer:
        assert (config.epochs, config.lr_schedule, config.learning_rate, config.momentum, config.weight_decay,
                config.batch_size, config.seed, config.dataset, config.warmup_epochs) == (
                    3, "cosine", 0.1, 0.9, 1e-4, 128, 0, "sample", 2.0)
        assert (config.train_examples, config.eval_examples) == (10000, 5000)  # the CPU-sized default
    record = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert record["final"]["plain56"]["train_error"] > record["final"]["plain20"]["train_error"]
    assert record["deeper_minus_shallower_train_error"]["plain"]["points"] == pytest.approx(3.6)
    assert (tmp_path / "out" / "degradation.png").stat().st_size > 10_000
    studies.run("degradation", str(tmp_path / "again"), **settings)
    assert len(stand_in_trainer) == 3  # finished runs are read, not trained again


def test_a_run_of_another_recipe_is_an_error_not_reused(tmp_path, stand_in_trainer):
    runs_dir = str(tmp_path / "runs")
    studies.run("degradation", str(tmp_path / "out"), runs_dir=runs_dir, dataset="sample", epochs=3,
                models=("plain20",))
    with pytest.raises(StudyError, match=r"plain20' holds a run of another model or recipe: epochs 3 \(study: 4\)"):
        studies.run("degradation", str(tmp_path / "out"), runs_dir=runs_dir, dataset="sample", epochs=4,
                    models=("plain20",))


def test_unfinished_runs_are_drawn_as_logged_when_allowed(tmp_path, stand_in_trainer):
    runs_dir = str(tmp_path / "runs")
    studies.run("degradation", str(tmp_path / "out"), runs_dir=runs_dir, dataset="sample", epochs=3,
                models=("plain20",))
    os.remove(os.path.join(runs_dir, "plain20", runs.FINISHED_FILE))
    studies.run("degradation", str(tmp_path / "out"), runs_dir=runs_dir, dataset="sample", epochs=3,
                models=("plain20", "plain56"), allow_unfinished=True)
    record = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert record["run_status"] == {"plain20": "unfinished", "plain56": "missing"}
    assert len(stand_in_trainer) == 1


def test_placement_runs_are_the_registered_net_and_its_placements(tmp_path, stand_in_trainer):
    studies.run("placement", str(tmp_path / "out"), runs_dir=str(tmp_path / "runs"), dataset="sample", epochs=3,
                depth=20, placements=("a", "b", "e"))
    assert [(c.model, c.model_overrides, os.path.basename(c.model_dir)) for c in stand_in_trainer] == [
        ("resnet20", {}, "resnet20"), ("resnet20", {"placement": "b"}, "resnet20_b"),
        ("resnet20", {"placement": "e"}, "resnet20_e"),
    ]
    assert (tmp_path / "out" / "placement.png").stat().st_size > 10_000


def test_paper_recipe_is_64k_iterations_with_the_step_schedule():
    config = runs.Recipe(paper_recipe=True).train_config("resnet110", "resnet110", {}, 110)
    assert (config.train_steps, config.lr_schedule, tuple(config.lr_boundaries), config.lr_boundaries_unit) == (
        64000, "step", (32000, 48000), "step")
    assert (config.warmup_steps, config.warmup_learning_rate) == (400, 0.01)
    assert (config.train_examples, config.eval_examples) == (None, None)  # the whole training and test sets
    assert runs.Recipe(paper_recipe=True).train_config("resnet20", "resnet20", {}, 20).warmup_steps == 0


@pytest.mark.parametrize("study,settings,message", [
    ("degradation", {"models": ("resnet21",)}, "Unknown net 'resnet21'; allowed: plain20"),
    ("placement", {"placements": ("f",)}, "--placements must be a non-empty list of a: original"),
    ("placement", {"depth": 50}, "Unknown net 'resnet50'"),
    ("degradation", {"warmup_epochs": 10.0}, r"--warmup_epochs must be in \[0, --epochs\), got 10.0"),
    ("lesion", {"draws": 0}, "--draws must be >= 1"),
    ("paths", {"mass": 1.5}, "--mass must be in"),
])
def test_bad_settings_are_one_clear_error(tmp_path, study, settings, message):
    with pytest.raises(StudyError, match=message):
        studies.run(study, str(tmp_path), **settings)
