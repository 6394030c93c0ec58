"""The callback that commits a run's progress to its directory, in an order that a kill cannot break."""

import os
import time

from keras_resnets.backend import keras
from keras_resnets.training import run_dir
from keras_resnets.training.backup import write_backup
from keras_resnets.training.callbacks import finite_loss

NO_STEPS = {"steps": 0, "means": {}}


def merge(first, second):
    """The means of two consecutive stretches of steps, {"steps": n, "means": {...}} each, over both."""
    steps = first["steps"] + second["steps"]
    if not first["steps"]:
        return second
    means = {key: (first["steps"] * first["means"][key] + second["steps"] * value) / steps
             for key, value in second["means"].items()}
    return {"steps": steps, "means": means}


class Journal(keras.callbacks.Callback):
    """At the end of each epoch: the epoch's metrics.csv row, then a backup that covers it; every `every_steps`
    steps within an epoch: a backup that carries the epoch's metrics so far. Nothing is committed once the loss
    is not finite.

    Keras resets its training metrics at the start of every `fit` epoch and reports running means, so an epoch
    that a restart splits over two processes gets its row from the means of both parts, weighted by their steps:
    the row an uninterrupted run writes.
    """

    def __init__(self, model_dir, steps_per_epoch, every_steps, settings, resumed=None):
        super().__init__()
        self.model_dir = model_dir
        self.backup_dir = os.path.join(model_dir, run_dir.BACKUP_DIR)
        self.steps_per_epoch = steps_per_epoch
        self.every_steps = every_steps
        self.settings = settings
        self.carried = resumed.partial if resumed else NO_STEPS  # the epoch's steps done before this start
        self.seconds_before = resumed.train_seconds if resumed else 0.0
        self.started = time.perf_counter()

    def train_seconds(self):
        """Training time so far, over every start of the run (work lost to a kill not counted twice)."""
        return self.seconds_before + time.perf_counter() - self.started

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self._first_step = self._step()

    def _so_far(self, logs):
        """The metrics of the epoch's steps so far, including those of an earlier start."""
        means = {key: float(value) for key, value in logs.items() if not key.startswith("val_")}
        return merge(self.carried, {"steps": self._step() - self._first_step, "means": means})

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if self.every_steps and step % self.every_steps == 0 and step % self.steps_per_epoch and finite_loss(logs):
            self._backup(step, step // self.steps_per_epoch, self._so_far(logs))

    def on_epoch_end(self, epoch, logs=None):
        if not finite_loss(logs):
            return
        training = self._so_far(logs)["means"]
        evaluation = {key: float(value) for key, value in logs.items() if key.startswith("val_")}
        self.carried = NO_STEPS
        run_dir.append_metrics(self.model_dir, epoch, {**training, **evaluation})
        self._backup(self._step(), epoch + 1, NO_STEPS)

    def _backup(self, step, epochs, partial):
        write_backup(self.backup_dir, self.model, step=step, epochs=epochs, partial=partial,
                     train_seconds=self.train_seconds(), settings=self.settings)
