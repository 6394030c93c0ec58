"""Learning-rate schedules of the papers, as serializable Keras schedules driven by the optimizer's step."""

import math

import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.layers.base import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class PiecewiseWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`base * factor**k` after the k-th boundary (He et al. 2015: 0.1, /10 at 32k and 48k iterations),
    with an optional constant warm-up learning rate for the first `warmup_steps` (ResNet-110: 0.01)."""

    def __init__(self, base, boundaries, factor=0.1, warmup_steps=0, warmup_value=None):
        self.base = float(base)
        self.boundaries = [int(step) for step in boundaries]
        self.factor = float(factor)
        self.warmup_steps = int(warmup_steps)
        self.warmup_value = None if warmup_value is None else float(warmup_value)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        passed = tf.reduce_sum(tf.cast(step >= tf.constant(self.boundaries or [math.inf], tf.float32), tf.float32))
        value = self.base * tf.pow(self.factor, passed)
        if self.warmup_steps:
            warmup = self.base if self.warmup_value is None else self.warmup_value
            value = tf.where(step < self.warmup_steps, warmup, value)
        return value

    def get_config(self):
        return {
            "base": self.base,
            "boundaries": self.boundaries,
            "factor": self.factor,
            "warmup_steps": self.warmup_steps,
            "warmup_value": self.warmup_value,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class CosineWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over `warmup_steps`, then cosine decay to `final` at `total_steps`."""

    def __init__(self, base, total_steps, warmup_steps=0, final=0.0):
        self.base = float(base)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.final = float(final)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = tf.clip_by_value((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = self.final + 0.5 * (self.base - self.final) * (1.0 + tf.cos(math.pi * progress))
        if not self.warmup_steps:
            return cosine
        return tf.where(step < self.warmup_steps, self.base * (step + 1) / self.warmup_steps, cosine)

    def get_config(self):
        return {
            "base": self.base,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final": self.final,
        }
