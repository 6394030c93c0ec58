"""Callbacks of a training run: exact step budget, divergence guard, throughput."""

import math
import time

from keras_resnets.backend import keras


def finite_loss(logs):
    """Whether the loss in Keras' `logs` (when there is one) is a finite number."""
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class StopAtStep(keras.callbacks.Callback):
    """Stops after exactly `total_steps` optimizer steps, wherever that falls in an epoch."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.total_steps:
            self.model.stop_training = True


class DivergenceGuard(keras.callbacks.Callback):
    """Stops at the first non-finite loss and remembers where, so the run can fail with a clear message."""

    def __init__(self):
        super().__init__()
        self.diverged_at = None

    def on_train_batch_end(self, batch, logs=None):
        if not finite_loss(logs):
            self.diverged_at = int(self.model.optimizer.iterations.numpy())
            self.model.stop_training = True


class Throughput(keras.callbacks.Callback):
    """Training images per second of each epoch (the first, which compiles, is reported separately)."""

    def __init__(self, global_batch):
        super().__init__()
        self.global_batch = global_batch
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last_batch_end = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._last_batch_end = time.perf_counter()  # validation, which follows, is not training time

    def on_epoch_end(self, epoch, logs=None):
        if self._steps:
            self.rates.append(self._steps * self.global_batch / (self._last_batch_end - self._start))

    @property
    def images_per_second(self):
        steady = self.rates[1:] or self.rates
        return sum(steady) / len(steady) if steady else None  # None: this start trained no step
