"""Backups of a training run that a kill at any instant cannot destroy.

A backup is a pair of files in `<model_dir>/backup/`: `step-<N>.weights.h5` (the model's and the optimizer's
variables) and `step-<N>.json`, its commit record: the optimizer step, the epochs finished, the SHA-256 of the
weights, the unfinished epoch's metrics so far, the training time so far and the run's settings. The weights are
written first and the record last, by rename, so a record exists only for complete weights; a kill leaves at
worst weights without a record, which are ignored. The newest two backups are kept: when the newest no longer
matches its record (a damaged disk, a copy cut short), the run resumes from the one before and says so.
"""

import dataclasses
import json
import os
import re

from keras_resnets.training.durable import sha256, sync, write_json_atomically

RECORD = re.compile(r"^step-(\d+)\.json$")
KEPT = 2
# What keras.callbacks.BackupAndRestore, used by earlier versions of this package, leaves in the backup directory.
KERAS_BACKUP_RECORD = "training_metadata.json"


class DamagedBackupError(ValueError):
    """No backup of an interrupted run can be resumed."""


@dataclasses.dataclass(frozen=True)
class Backup:
    step: int  # optimizer steps done
    epochs: int  # epochs finished: the run's metrics.csv rows
    partial: dict  # {"steps": n, "means": {metric: mean}} of the unfinished epoch's first n steps
    train_seconds: float  # training time of every start of the run so far
    settings: dict  # the run's settings (TrainConfig as JSON)
    weights_path: str


def _paths(backup_dir, step):
    stem = os.path.join(backup_dir, f"step-{step:09d}")
    return f"{stem}.weights.h5", f"{stem}.json"


def write_backup(backup_dir, model, *, step, epochs, partial, train_seconds, settings):
    """Commits a backup of `model` at `step`, then deletes all but the newest `KEPT` backups."""
    os.makedirs(backup_dir, exist_ok=True)
    weights_path, record_path = _paths(backup_dir, step)
    model.save_weights(weights_path, overwrite=True)
    sync(weights_path)
    record = dict(step=step, epochs=epochs, partial=partial, train_seconds=train_seconds, settings=settings,
                  weights_sha256=sha256(weights_path))
    write_json_atomically(record_path, record)
    _delete_all_but_newest(backup_dir, step)


def _records(backup_dir):
    """(step, record path) of every commit record in `backup_dir`, newest first."""
    names = os.listdir(backup_dir) if os.path.isdir(backup_dir) else []
    found = [(int(match.group(1)), os.path.join(backup_dir, name)) for name in names if (match := RECORD.match(name))]
    return sorted(found, reverse=True)


def _delete_all_but_newest(backup_dir, step):
    """Keeps the newest `KEPT` backups up to `step`; later ones are damaged backups that a resumed run passed."""
    kept = set()
    for kept_step, _ in [record for record in _records(backup_dir) if record[0] <= step][:KEPT]:
        kept.update(os.path.basename(path) for path in _paths(backup_dir, kept_step))
    # Records go first, so that no record outlives its weights.
    for name in sorted(os.listdir(backup_dir), key=lambda name: not RECORD.match(name)):
        if name not in kept:
            os.remove(os.path.join(backup_dir, name))


def _read(record_path, step):
    """The Backup that `record_path` commits, or DamagedBackupError saying what is wrong with it."""
    where = f"the backup at step {step} ({record_path})"
    try:
        with open(record_path) as file:
            record = json.load(file)
        weights_path = _paths(os.path.dirname(record_path), step)[0]
        fields = {name: record[name] for name in ("step", "epochs", "partial", "train_seconds", "settings")}
        expected = record["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedBackupError(f"{where} has an unreadable record ({type(error).__name__}: {error})") from error
    if not os.path.isfile(weights_path):
        raise DamagedBackupError(f"{where} has lost its weights file {weights_path}")
    if sha256(weights_path) != expected:
        raise DamagedBackupError(f"{where} has a weights file that no longer matches its record (changed or cut short)")
    return Backup(weights_path=weights_path, **fields)


def latest_backup(backup_dir):
    """(the newest intact Backup in `backup_dir` or None when nothing was committed, [why each newer one was skipped]).

    Raises DamagedBackupError when backups were committed and none of them is intact.
    """
    problems = []
    for step, record_path in _records(backup_dir):
        try:
            return _read(record_path, step), problems
        except DamagedBackupError as error:
            problems.append(str(error))
    if problems:
        raise DamagedBackupError(
            f"No backup in {backup_dir} can be resumed: {'; '.join(problems)}. Restore those files if you have a "
            "copy, or start the run over with --overwrite (this deletes its backups and metrics)."
        )
    if os.path.isfile(os.path.join(backup_dir, KERAS_BACKUP_RECORD)):
        raise DamagedBackupError(
            f"{backup_dir} holds a backup written by an earlier version of keras_resnets, which cannot be resumed: "
            "finish the run with that version, or start it over with --overwrite."
        )
    return None, problems


def restore(backup, model):
    """Loads the backup's variables into a compiled `model` (call within the strategy's scope)."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)  # the optimizer's variables must exist to be loaded
    model.load_weights(backup.weights_path)
