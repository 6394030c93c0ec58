"""A run directory (--model_dir) kept as a transaction log.

    run.json      the run's settings ("config": every TrainConfig field) and its model, overrides and dataset
    metrics.csv   one row per finished epoch, appended before the backup that covers it
    backup/       the newest two backups (keras_resnets.training.backup); deleted once the run has finished
    model.keras   the trained model
    metrics.json  the results, written last and atomically
    tensorboard/  TensorBoard logs

A run has finished exactly when metrics.json exists: that is a reader's one cheap check, and model.keras is then
complete. Started again, a finished run is left as it is; an unfinished one resumes from its newest backup, with
the rows of metrics.csv past that backup rolled back; one that committed no backup starts over.
"""

import csv
import dataclasses
import io
import json
import os
import shutil

from keras_resnets.training.config import FREE_ON_RESUME, TrainConfig
from keras_resnets.training.durable import sync, write_atomically, write_json_atomically

RUN_FILE = "run.json"
METRICS_FILE = "metrics.csv"
RESULTS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
BACKUP_DIR = "backup"
# Everything a run writes, the finished marker first: deleted in this order, a run stops being finished first.
ARTIFACTS = (RESULTS_FILE, MODEL_FILE, "eval.json", BACKUP_DIR, METRICS_FILE, "tensorboard", RUN_FILE)


def settings(config):
    """`config` as the JSON that run.json and the backups record."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def differences(recorded, config):
    """'--flag (there X, now Y)' for every setting that a run must keep and `config` changes."""
    defaults, current = settings(TrainConfig()), settings(config)
    return [
        f"--{name} (there {recorded.get(name, defaults[name])!r}, now {value!r})"
        for name, value in current.items()
        if name not in FREE_ON_RESUME and recorded.get(name, defaults[name]) != value
    ]


def check_directory(model_dir):
    """A ValueError when `model_dir` cannot hold a run; creates nothing (a run that fails to start leaves no trace)."""
    existing = os.path.abspath(model_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is a file" if existing == os.path.abspath(model_dir) else f"is inside {existing!r}, which is a file"
        raise ValueError(f"--model_dir {model_dir!r} {where}; it must be a directory (or not exist yet).")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--model_dir {model_dir!r} cannot be written: {existing!r} is not writable.")


def finished_results(model_dir, config):
    """The results of the finished run in `model_dir`, or None when it holds none.

    Raises ValueError when that run had other settings: this config is another run, which would replace it.
    """
    if not os.path.isfile(os.path.join(model_dir, RESULTS_FILE)):
        return None
    try:
        with open(os.path.join(model_dir, RUN_FILE)) as file:
            recorded = json.load(file)["config"]
        with open(os.path.join(model_dir, RESULTS_FILE)) as file:
            results = json.load(file)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--model_dir {model_dir!r} holds a finished run whose {RUN_FILE} or {RESULTS_FILE} "
                         f"cannot be read ({error}). Use another --model_dir, or --overwrite to train again.") from error
    changed = differences(recorded, config)
    if changed:
        raise ValueError(f"--model_dir {model_dir!r} holds a finished run with other settings: {'; '.join(changed)}. "
                         "Use another --model_dir, or --overwrite to replace that run.")
    return results


def check_resumable(backup, config, model_dir):
    """Refuses to resume `backup` with settings that change what the run trains."""
    changed = differences(backup.settings, config)
    if changed:
        raise ValueError(
            f"--model_dir {model_dir!r} holds an interrupted run that a restart must continue with the same "
            f"settings, and these differ: {'; '.join(changed)}. Restart with those values, use another "
            "--model_dir, or --overwrite to start this run over."
        )


def begin(model_dir, config, backup):
    """The run's first write: continues after `backup`, or (None) clears what an earlier start left."""
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--model_dir {model_dir!r} cannot be created: {error.strerror or error}.") from error
    if backup is None:
        for name in ARTIFACTS:
            path = os.path.join(model_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    else:
        _keep_rows(model_dir, backup.epochs)
    write_json_atomically(
        os.path.join(model_dir, RUN_FILE),
        {"model": config.model, "model_overrides": config.model_overrides, "dataset": config.dataset,
         "config": settings(config)},
    )


def metrics_rows(model_dir):
    """The rows of metrics.csv as dicts (an empty list before the first epoch)."""
    path = os.path.join(model_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _keep_rows(model_dir, count):
    """Rolls metrics.csv back to its first `count` rows: those the backup resumed from covers."""
    rows = metrics_rows(model_dir)
    if len(rows) <= count:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[:count])
    write_atomically(os.path.join(model_dir, METRICS_FILE), text.getvalue())


def append_metrics(model_dir, epoch, values):
    """Appends (and syncs) the row of `epoch`; the first row writes the header."""
    path = os.path.join(model_dir, METRICS_FILE)
    row = {"epoch": epoch, **{key: values[key] for key in sorted(values)}}
    new = not os.path.isfile(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(row), lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
        file.flush()
        os.fsync(file.fileno())


def test_accuracies(model_dir):
    """The val_accuracy column of metrics.csv (every epoch of the run, whichever start trained it)."""
    return [float(row["val_accuracy"]) for row in metrics_rows(model_dir)]


def finish(model_dir, model, results):
    """Saves the model, then the results (the finished marker), then drops the backups they supersede."""
    model.save(os.path.join(model_dir, MODEL_FILE))
    sync(os.path.join(model_dir, MODEL_FILE))
    write_json_atomically(os.path.join(model_dir, RESULTS_FILE), results)
    shutil.rmtree(os.path.join(model_dir, BACKUP_DIR), ignore_errors=True)
