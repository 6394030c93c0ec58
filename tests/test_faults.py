"""Fault injection into the training app: SIGKILL at random instants of a run (a training step, an evaluation, the
writing of a backup, of a metrics row, of the final model), reruns of finished, diverged and interrupted runs,
damaged backups, and bad command lines. A tiny net on 64 sample images keeps every run a few seconds long; runs that need no new process (everything but
the kills, the bad command lines and --help) train in this one.

The killed runs start from a fork server: a process that imports TensorFlow once and forks one child per run, which
runs apps/train.py as `python apps/train.py` does. A child dies by SIGKILL (from itself, at an instant chosen by
wrapping the function that runs then, or from the server after a random delay), so nothing of Python's shutdown
runs, as with `kill -9`.
"""

import concurrent.futures
import contextlib
import functools
import hashlib
import itertools
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from keras_resnets.backend import keras
from keras_resnets.training import TrainConfig, TrainingDivergedError, journal, train
from keras_resnets.training.backup import DamagedBackupError

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "apps" / "train.py")
TIMEOUT_S = 240
# 3 epochs of 8 steps; a backup every 4 steps (mid-epoch and at each epoch's end); 2 evaluation batches per epoch.
TINY = dict(model="resnet20", model_overrides={"depth": 8, "widths": [4, 8, 16], "stem_chs": 4}, dataset="sample",
            image_size=16, train_examples=64, eval_examples=16, batch_size=8, epochs=3, checkpoint_every_steps=4,
            seed=1, verbose=0)
STEPS = 24
RUN_FILES = {"run.json", "metrics.csv", "model.keras", "metrics.json", "tensorboard"}


def _argv(settings):
    return [f"--{name}={json.dumps(value) if isinstance(value, dict) else value}" for name, value in settings.items()]


def _env():
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CONFIG", "TF_USE_LEGACY_KERAS")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


SERVER = r'''
import json, os, runpy, signal, sys, time, traceback

import keras_resnets.training  # TensorFlow, Keras and the package, imported once for every run
from keras_resnets.backend import keras
from keras_resnets.training import backup, journal, run_dir

TRAIN, TIMEOUT_S = sys.argv[1], int(sys.argv[2])


def die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at(owner, name, occurrence, after=False, cut=False, counted=lambda *args: True):
    """SIGKILL at the `occurrence`-th call of owner.name that `counted` accepts: before the call, or after it;
    `cut` first cuts the file it wrote (its first argument after self) to half: a write the kill interrupted."""
    original, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        calls[0] += counted(*args)
        if calls[0] != occurrence or not counted(*args):
            return original(*args, **kwargs)
        if after:
            original(*args, **kwargs)
        if cut:
            with open(args[1], "r+b") as file:
                file.truncate(os.path.getsize(args[1]) // 2)
        die()

    setattr(owner, name, wrapper)


FAULTS = {
    "step": lambda n: kill_at(journal.Journal, "on_train_batch_end", n),
    "evaluation": lambda n: kill_at(journal.Journal, "on_test_batch_end", n),
    "backup_weights": lambda n: kill_at(keras.Model, "save_weights", n, after=True, cut=True),
    "backup_record": lambda n: kill_at(backup, "write_json_atomically", n),
    "backup_cleanup": lambda n: kill_at(backup, "_delete_all_but_newest", n),
    "metrics_row": lambda n: kill_at(run_dir, "append_metrics", n, after=True),
    "model_save": lambda n: kill_at(keras.Model, "save", n, after=True, cut=True),
    "results": lambda n: kill_at(run_dir, "write_json_atomically", n,
                                 counted=lambda path, *_: path.endswith(run_dir.RESULTS_FILE)),
}


def run(request):
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    signal.alarm(TIMEOUT_S)
    fault = request.get("fault") or {}
    if fault.get("kind") in FAULTS:
        FAULTS[fault["kind"]](fault["occurrence"])
    sys.argv = [TRAIN, *request["argv"]]
    try:
        runpy.run_path(TRAIN, run_name="__main__")
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wait(pid, kill_after_s):
    deadline = time.monotonic() + (kill_after_s or 0)
    while kill_after_s is not None:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still the child's
            break
        time.sleep(0.005)
    return os.waitpid(pid, 0)[1]


for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        run(request)
    status = wait(pid, (request.get("fault") or {}).get("after_s"))
    print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
'''


class ForkServer:
    """Runs apps/train.py in children of one process that imported TensorFlow once; one run at a time."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-c", SERVER, TRAIN, str(TIMEOUT_S)], cwd=ROOT, env=_env(),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, argv, log, fault=None):
        """The exit code of apps/train.py `argv` (-9: killed), its output appended to `log`."""
        self.process.stdin.write(json.dumps({"argv": argv, "log": str(log), "fault": fault}) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        assert reply, f"the fork server ended (exit code {self.process.wait()})"
        return json.loads(reply)["code"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _config(model_dir, **changes):
    return TrainConfig(**{**TINY, **changes}, model_dir=str(model_dir))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The model_dir of the uninterrupted run."""
    model_dir = tmp_path_factory.mktemp("reference")
    train(_config(model_dir))
    return model_dir


@functools.cache
def _weights(model_dir):
    return keras.saving.load_model(str(pathlib.Path(model_dir) / "model.keras")).get_weights()


def _rows(model_dir):
    text = (pathlib.Path(model_dir) / "metrics.csv").read_text().splitlines()
    return [line.split(",") for line in text]


def assert_same_run(model_dir, reference, context=""):
    """`model_dir` holds the reference run: the same files, steps, metrics.csv (one row per epoch) and weights."""
    model_dir = pathlib.Path(model_dir)
    assert {path.name for path in model_dir.iterdir()} == RUN_FILES, context
    assert json.loads((model_dir / "metrics.json").read_text())["steps"] == STEPS, context
    rows, expected = _rows(model_dir), _rows(reference)
    assert rows[0] == expected[0] and [row[0] for row in rows[1:]] == ["0", "1", "2"], (context, rows)
    # Epochs split by a restart are averaged from two parts: equal up to float32 rounding.
    np.testing.assert_allclose(np.array(rows[1:], float), np.array(expected[1:], float), rtol=1e-5, err_msg=context)
    # Multi-threaded CPU kernels sum in varying order: weights agree to rounding, not bit for bit.
    for got, want in zip(_weights(str(model_dir)), _weights(str(reference)), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=context)


# Each kind of kill point twice, plus two external kills; the occurrence is drawn at random.
KILL_KINDS = ["step", "evaluation", "backup_weights", "backup_record", "backup_cleanup", "metrics_row", "model_save",
              "results", "external"] * 2 + ["external", "step"]
# Occurrences are counted from a run's start: small ones are reached by most restarts too.
OCCURRENCES = {"step": 6, "evaluation": 4, "backup_weights": 3, "backup_record": 3, "backup_cleanup": 3,
               "metrics_row": 2, "model_save": 1, "results": 1}


def _fault(kind, rng):
    if kind == "external":
        return {"kind": kind, "after_s": rng.uniform(0.5, 5.0)}
    return {"kind": kind, "occurrence": rng.randint(1, OCCURRENCES[kind])}


def _kill_chain(server, kinds, rng, workdir):
    """Runs the tiny command, killing each run at the next kill point, until every kill point has killed a run; a
    run that ends first is checked later, and the next one starts in a new model_dir. Returns the finished
    model_dirs and every (model_dir, fault, exit code) run."""
    log, finished, runs = workdir / "log.txt", [], []
    model_dirs = (workdir / f"run{index}" for index in itertools.count())
    model_dir, pending = next(model_dirs), list(kinds)
    while True:
        fault = _fault(pending[0], rng) if pending else None
        code = server.run([*_argv(TINY), f"--model_dir={model_dir}"], log, fault)
        runs.append((model_dir.name, fault, code))
        if code == -9:
            pending.pop(0)
            continue
        assert code == 0, f"exit code {code} after {runs}:\n{log.read_text()[-3000:]}"
        finished.append(model_dir)
        if not pending:
            return finished, runs
        model_dir = next(model_dirs)


def test_kill_9_at_random_instants_then_restart_ends_with_the_uninterrupted_run(reference, tmp_path):
    """At least 20 SIGKILLs, each at a random instant of one of the kinds above, in two chains of runs side by side:
    every killed run started again resumes, and every run ends with the uninterrupted run's weights and metrics."""
    seed = random.SystemRandom().randrange(2**32)  # train() seeds the `random` module: draw from the system
    print(f"kill points drawn with seed {seed}")  # shown when the test fails
    kinds = KILL_KINDS[:]
    random.Random(seed).shuffle(kinds)

    def run_chain(index):
        server, workdir = ForkServer(), tmp_path / f"chain{index}"
        workdir.mkdir()
        try:
            return _kill_chain(server, kinds[index::2], random.Random(seed + index), workdir)
        finally:
            server.close()

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        chains = list(pool.map(run_chain, range(2)))
    runs = [run for _, chain_runs in chains for run in chain_runs]
    assert sum(code == -9 for _, _, code in runs) >= 20, runs
    for finished, chain_runs in chains:
        for model_dir in finished:
            assert_same_run(model_dir, reference, f"seed {seed}, {model_dir}: {chain_runs}")


class Crash(Exception):
    """A run that stops right after one of its backups (what a kill there leaves, in this process)."""


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A model_dir of the tiny run stopped right after its third backup (step 12, within epoch 1; the backups of
    steps 8 and 12 are kept)."""
    model_dir, calls, original = tmp_path_factory.mktemp("interrupted"), itertools.count(1), journal.write_backup

    def write_backup(*args, **kwargs):
        original(*args, **kwargs)
        if next(calls) == 3:
            raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journal, "write_backup", write_backup)
        with pytest.raises(Crash):
            train(_config(model_dir))
    return model_dir


@pytest.fixture
def interrupted_copy(interrupted, tmp_path):
    model_dir = tmp_path / "run"
    shutil.copytree(interrupted, model_dir)
    return model_dir


def _hashes(directory):
    files = sorted(path for path in pathlib.Path(directory).rglob("*") if path.is_file())
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_rerunning_a_finished_run_changes_nothing(reference, tmp_path, capsys):
    model_dir = tmp_path / "run"
    shutil.copytree(reference, model_dir)
    before = _hashes(model_dir)
    results = train(_config(model_dir, verbose=2, checkpoint_every_steps=0))  # settings that may change
    assert "holds this run, finished: nothing to do" in capsys.readouterr().out
    assert results == json.loads((model_dir / "metrics.json").read_text())
    assert _hashes(model_dir) == before


def test_a_finished_run_is_replaced_only_with_overwrite(reference, tmp_path):
    model_dir = tmp_path / "run"
    shutil.copytree(reference, model_dir)
    with pytest.raises(ValueError, match=r"holds a finished run with other settings: --epochs \(there 3, now 1\)\. "
                                         r"Use another --model_dir, or --overwrite"):
        train(_config(model_dir, epochs=1))
    assert train(_config(model_dir, epochs=1, overwrite=True))["steps"] == 8
    assert [row[0] for row in _rows(model_dir)[1:]] == ["0"]
    assert {path.name for path in model_dir.iterdir()} == RUN_FILES


def test_a_diverged_run_started_again_fails_again_without_repeating_a_row(tmp_path):
    diverging = dict(lr_schedule="step", lr_boundaries=(1.0,), lr_decay_factor=1e9)  # from epoch 1 on, lr 1e8
    for _ in range(2):
        with pytest.raises(TrainingDivergedError, match="The loss became NaN or infinite at step"):
            train(_config(tmp_path, **diverging))
        assert [row[0] for row in _rows(tmp_path)[1:]] == ["0"]
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "metrics.json").exists()


def test_a_restart_with_other_settings_is_refused_naming_each_flag(interrupted_copy):
    before = _hashes(interrupted_copy)
    with pytest.raises(ValueError, match=r"differ: --batch_size \(there 8, now 16\); --seed \(there 1, now 2\)\. "
                                         r"Restart with those values, use another --model_dir, or --overwrite"):
        train(_config(interrupted_copy, batch_size=16, seed=2))
    assert _hashes(interrupted_copy) == before


def test_a_restart_with_another_checkpoint_interval_resumes_at_the_backup(reference, interrupted_copy):
    assert train(_config(interrupted_copy, checkpoint_every_steps=3))["steps"] == STEPS
    assert_same_run(interrupted_copy, reference)


def test_a_damaged_newest_backup_is_reported_and_the_one_before_resumed(reference, interrupted_copy, capsys):
    _flip_a_byte(interrupted_copy / "backup" / "step-000000012.weights.h5")
    train(_config(interrupted_copy))
    assert re.search(r"warning: the backup at step 12 \(.*\) has a weights file that no longer matches its record "
                     r"\(changed or cut short\); resuming from the backup before it\.", capsys.readouterr().err)
    assert_same_run(interrupted_copy, reference)


def test_no_intact_backup_is_one_error_that_says_what_to_do(interrupted_copy):
    record = interrupted_copy / "backup" / "step-000000012.json"
    record.write_text(record.read_text()[:20])  # a copy cut short
    _flip_a_byte(interrupted_copy / "backup" / "step-000000008.weights.h5")
    before = _hashes(interrupted_copy)
    with pytest.raises(DamagedBackupError, match=r"No backup in .* can be resumed: the backup at step 12 .* has an "
                                                 r"unreadable record .*; the backup at step 8 .* no longer matches "
                                                 r"its record .* Restore those files .* or start the run over with "
                                                 r"--overwrite"):
        train(_config(interrupted_copy))
    assert _hashes(interrupted_copy) == before  # left for repair


def test_a_run_that_fails_to_build_its_model_leaves_nothing_behind(tmp_path):
    model_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=r"depth with basic blocks must be 6n\+2"):
        train(_config(model_dir, model_overrides={**TINY["model_overrides"], "depth": 9}))
    assert not model_dir.exists()
    assert train(_config(model_dir, train_steps=2))["steps"] == 2  # the corrected command


def test_one_metrics_row_and_one_evaluation_per_epoch_whatever_the_checkpoint_interval(reference, tmp_path,
                                                                                      monkeypatch):
    evaluations, evaluate = [], keras.Model.evaluate

    def counted_evaluate(*args, **kwargs):
        evaluations.append(1)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(keras.Model, "evaluate", counted_evaluate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(_config(tmp_path, checkpoint_every_steps=3))
    assert len(evaluations) == 3
    assert not [warning for warning in caught if "ran out of data" in str(warning.message)]
    assert_same_run(tmp_path, reference)


@pytest.fixture(scope="module")
def server():
    with contextlib.closing(ForkServer()) as started:
        yield started


def test_bad_command_lines_end_in_one_error_line_and_exit_code_2(server, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cases = [
        (["--checkpoint_every_steps=-1"], r"--checkpoint_every_steps must be an integer >= 0; got -1\."),
        (["--momentum=nan"], r"--momentum must be a finite number >= 0 and < 1; got nan\."),
        (["--train_examples=-5"], r"--train_examples must be an integer >= 1 \(or unset\); got -5\."),
        (["--learning_rate=inf"], r"--learning_rate must be a finite number > 0; got inf\."),
        (["--batch_size=0"], r"--batch_size must be an integer >= 1; got 0\."),
        (["--lr_boundaries=2,1"], r"--lr_boundaries must increase; got \[2\.0, 1\.0\]\."),
        (["--verbose=7"], r"--verbose must be one of 0, 1, 2; got 7\."),
        (["--epochs=0"], r"--epochs or --train_steps must be >= 1"),
        (['--model_overrides={"no_such_argument": 1}'],
         r"--model_overrides sets no_such_argument, which 'resnet20' does not take; it takes depth, block, "),
        (["--model=resnet21"], r"Unknown model 'resnet21'"),
        ([f"--model_dir={a_file}"], r"--model_dir '.*a_file' is a file; it must be a directory"),
        ([f"--model_dir={a_file}/run"], r"--model_dir '.*a_file/run' is inside '.*a_file', which is a file"),
        (["--momentum=abc"], r"flag --momentum=abc: could not convert string to float"),
        (["extra"], r"unexpected arguments \['extra'\]"),
    ]
    for index, (argv, message) in enumerate(cases):
        log, model_dir = tmp_path / f"log{index}.txt", tmp_path / f"run{index}"
        code = server.run([*_argv(TINY), f"--model_dir={model_dir}", *argv], log)
        output = log.read_text()
        errors = [line for line in output.splitlines() if line.startswith("error: ")]
        assert code == 2 and len(errors) == 1 and re.search(message, errors[0]), (argv, code, output)
        assert "Traceback" not in output, (argv, output)
        assert not model_dir.exists(), argv


def test_help_lists_the_training_flags_and_tensorflow_loads_quietly():
    env = _env()
    del env["TF_CPP_MIN_LOG_LEVEL"]  # the app's own setting must be enough
    result = subprocess.run([sys.executable, TRAIN, "--help"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    for flag in ("--checkpoint_every_steps:", "--[no]overwrite:", "--model_dir:", "--momentum:"):
        assert flag in result.stdout, result.stdout
    assert "--logtostderr" not in result.stdout  # absl's own flags stay in --helpfull
    assert result.stderr == "", result.stderr  # no CUDA or absl notices while TensorFlow loads
