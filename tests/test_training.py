"""The training app's flags, flagfiles, recipes and input errors (fast, in-process, CPU)."""

import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

import keras_resnets
from keras_resnets.backend import keras
from keras_resnets.training import TrainConfig, train
from keras_resnets.training.config import INTEGER_MINIMUMS, NUMBER_INTERVALS
from keras_resnets.training.flags import config_from_flags, define_flags
from keras_resnets.training.optimizer import KernelDecaySGD
from keras_resnets.training.schedules import CosineWithWarmup, PiecewiseWithWarmup
from keras_resnets.training.strategy import create_strategy, per_replica_batch

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Fine-tuning flagfiles start from hub weights: tests/test_finetune.py runs them from an offline hub cache.
CONFIGS = sorted(path for path in (ROOT / "apps" / "configs").glob("*.cfg") if not path.name.startswith("finetune_"))
# Two steps on the shipped sample, batch 8, float32 without XLA (a CPU); ImageNet recipes at 64x64.
QUICK = ["--dataset=sample", "--train_steps=2", "--batch_size=8", "--train_examples=16", "--eval_examples=8",
         "--precision=float32", "--nojit_compile", "--verbose=0"]


def parse(argv):
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    flag_values(["train.py", *argv])
    return config_from_flags(flag_values)


@pytest.mark.parametrize("flagfile", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_every_flagfile_parses_into_a_valid_config_for_its_model(flagfile):
    config = parse([f"--flagfile={flagfile}"])
    assert config.model in keras_resnets.list_models() and config.dataset
    assert config.validate() is config  # every flag, and the model overrides against the builder's arguments


# Two steps of every distinct recipe: the paper's step schedule (plain and residual), its warm-up at 0.01 for the
# deepest nets, a pre-activation placement override, the quickstart, and both ImageNet recipes at 64x64. The
# flagfiles that differ from these only in the model train the same way; test_models builds every model.
TRAINED_RECIPES = {"quickstart": None, "cifar10_resnet20": None, "cifar10_plain20": None,
                   "cifar10_resnet110": "resnet20", "cifar10_preact_resnet110_b": "resnet20",
                   "imagenet_resnet50": None, "imagenet_rexnet_100": None}


@pytest.mark.parametrize("stem, model", TRAINED_RECIPES.items(), ids=list(TRAINED_RECIPES))
def test_each_flagfile_recipe_trains_two_steps(stem, model, tmp_path):
    flagfile = ROOT / "apps" / "configs" / f"{stem}.cfg"
    original = parse([f"--flagfile={flagfile}"])
    overrides = [*QUICK, f"--model_dir={tmp_path}"] + ([f"--model={model}"] if model else [])
    if "imagenet" in stem:
        overrides += ["--image_size=64", "--eval_split=test"]
    config = parse([f"--flagfile={flagfile}", *overrides])
    assert config.model_overrides == original.model_overrides and config.lr_schedule == original.lr_schedule
    results = train(config)
    assert results["steps"] == 2
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "metrics.csv").is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["model"] == (model or original.model)


def test_command_line_overrides_the_flagfile():
    config = parse([f"--flagfile={ROOT / 'apps/configs/cifar10_resnet20.cfg'}", "--epochs=2", "--train_steps=0"])
    assert (config.epochs, config.train_steps, config.lr_boundaries) == (2, 0, (32000.0, 48000.0))


def test_paper_step_schedule_and_warmup():
    schedule = PiecewiseWithWarmup(0.1, [32000, 48000], 0.1, warmup_steps=400, warmup_value=0.01)
    values = [float(schedule(step)) for step in (0, 399, 400, 31999, 32000, 48000, 63999)]
    np.testing.assert_allclose(values, [0.01, 0.01, 0.1, 0.1, 0.01, 0.001, 0.001], rtol=1e-6)


def test_cosine_with_linear_warmup():
    schedule = CosineWithWarmup(0.4, total_steps=100, warmup_steps=10)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 9, 10, 55, 100)], [0.04, 0.4, 0.4, 0.2, 0.0], atol=1e-6)


def test_weight_decay_reaches_kernels_only():
    dense = keras.layers.Dense(2, bias_initializer="ones")
    bn = keras.layers.BatchNormalization()
    dense.build((None, 2))
    bn.build((None, 2))
    variables = [dense.kernel, dense.bias, bn.gamma, bn.beta]
    before = [np.array(v) for v in variables]
    optimizer = KernelDecaySGD(l2=0.5, learning_rate=0.1)
    optimizer.apply([np.zeros(v.shape, "float32") for v in variables], variables)
    after = [np.array(v) for v in variables]
    np.testing.assert_allclose(after[0], before[0] * (1 - 0.1 * 0.5), rtol=1e-6)  # decayed
    for untouched_before, untouched_after in zip(before[1:], after[1:]):
        np.testing.assert_array_equal(untouched_before, untouched_after)


def run_app(*argv):
    return subprocess.run(
        [sys.executable, str(ROOT / "apps" / "train.py"), *argv], capture_output=True, text=True, timeout=300
    )


def test_flagfile_that_does_not_exist():
    result = run_app("--flagfile=apps/configs/no_such.cfg")
    assert result.returncode != 0 and "no_such.cfg" in result.stderr


def test_unknown_strategy_and_flag_are_rejected_by_absl():
    result = run_app("--strategy=parameter_server")
    assert result.returncode != 0 and "value should be one of" in result.stderr
    result = run_app("--epoch=3")
    assert result.returncode != 0 and "Unknown command line flag 'epoch'" in result.stderr


def test_unknown_dataset_is_one_clear_error(tmp_path):
    result = run_app("--dataset=no_such_dataset", f"--model_dir={tmp_path}")
    assert result.returncode == 2
    assert "error: Unknown dataset 'no_such_dataset'. Allowed sources: 'sample'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_directory_and_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        train(TrainConfig(dataset=f"tfrecord:{tmp_path / 'absent'}", model_dir=str(tmp_path / "run")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="train"):
        train(TrainConfig(dataset=f"tfrecord:{tmp_path / 'empty'}", model_dir=str(tmp_path / "run")))


def test_batch_size_must_divide_over_replicas():
    class TwoReplicas:
        num_replicas_in_sync = 2

    assert per_replica_batch(8, TwoReplicas()) == 4
    with pytest.raises(ValueError, match="global batch size 7 must be a positive multiple of the 2 replicas"):
        per_replica_batch(7, TwoReplicas())


def test_unknown_strategy_name():
    with pytest.raises(ValueError, match="Unknown strategy 'ps'; allowed: 'default'"):
        create_strategy("ps")


def test_model_dir_of_another_model_is_refused(tmp_path):
    quick = dict(dataset="sample", train_steps=1, batch_size=8, train_examples=8, eval_examples=8, verbose=0)
    train(TrainConfig(model="resnet20", model_dir=str(tmp_path), **quick))
    with pytest.raises(ValueError, match=r"holds a finished run with other settings: --model \(there 'resnet20', now "
                                         r"'plain20'\)"):
        train(TrainConfig(model="plain20", model_dir=str(tmp_path), **quick))


@pytest.mark.parametrize(
    "field,value,message",
    [("learning_rate", 0.0, "--learning_rate must be a finite number > 0; got 0.0"),
     ("label_smoothing", 1.0, "--label_smoothing must be a finite number >= 0 and < 1; got 1.0")],
)
def test_invalid_values(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**{field: value}).validate()


def _bad_values():
    """(setting, value) for every numeric setting: below its minimum, and NaN or infinite where it is a float."""
    for name, minimum in INTEGER_MINIMUMS.items():
        yield name, minimum - 1
    for name in NUMBER_INTERVALS:
        yield from ((name, math.nan), (name, math.inf), (name, -math.inf))
    yield "lr_boundaries", (math.nan,)


@pytest.mark.parametrize("field,value", list(_bad_values()))
def test_every_numeric_setting_is_checked_under_its_flag_name(field, value):
    with pytest.raises(ValueError, match=f"^--{field} must be "):
        TrainConfig(**{field: value}).validate()


def test_model_overrides_must_be_json():
    with pytest.raises(ValueError, match="--model_overrides must be a JSON object"):
        parse(["--model_overrides={placement: b}"])
    with pytest.raises(ValueError, match=r"model_overrides cannot set \['classes'\]: the training app takes"):
        TrainConfig(model_overrides={"classes": 10, "placement": "b"}).validate()


def test_eval_only_evaluates_the_saved_model(tmp_path):
    from keras_resnets.training import evaluate

    quick = dict(dataset="sample", train_steps=1, batch_size=8, train_examples=8, eval_examples=16, verbose=0)
    with pytest.raises(ValueError, match="No saved model at"):
        evaluate(TrainConfig(model_dir=str(tmp_path), eval_only=True, **quick))
    trained = train(TrainConfig(model_dir=str(tmp_path), **quick))
    results = evaluate(TrainConfig(model_dir=str(tmp_path), eval_only=True, **quick))
    assert results["accuracy"] == pytest.approx(trained["final_test_accuracy"])
    assert json.loads((tmp_path / "eval.json").read_text())["accuracy"] == pytest.approx(results["accuracy"])


def test_validate_data_is_a_checked_choice_passed_to_the_pipeline(tmp_path, monkeypatch):
    from keras_resnets.training import trainer

    with pytest.raises(ValueError, match="validate_data"):
        TrainConfig(validate_data="sometimes").validate()
    seen = []
    real = trainer.input_pipeline
    monkeypatch.setattr(trainer, "input_pipeline", lambda *a, **k: seen.append(k.get("validate")) or real(*a, **k))
    config = TrainConfig(model="resnet20", dataset="sample", train_examples=64, eval_examples=32, batch_size=32,
                         epochs=1, validate_data="always", model_dir=str(tmp_path / "run"), verbose=0)
    trainer._training_data(config, 0, None)
    trainer._evaluation_data(config, None)
    assert seen == [True, True]
