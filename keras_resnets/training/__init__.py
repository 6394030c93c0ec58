"""Training: strategies, schedules, the weight-decayed optimizer, callbacks and the fit loop of apps/train.py."""

import importlib

from keras_resnets.backend import require_tensorflow

# name -> module; imported on first use, after the backend check (tf.distribute runs on TensorFlow only)
_EXPORTS = {"TrainConfig": "config", "TrainingDivergedError": "trainer", "evaluate": "trainer", "train": "trainer"}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'keras_resnets.training' has no attribute {name!r}")
    if _EXPORTS[name] == "trainer":
        require_tensorflow("Training (keras_resnets.training, apps/train.py: tf.distribute strategies)")
    return getattr(importlib.import_module(f"keras_resnets.training.{_EXPORTS[name]}"), name)


__all__ = ["TrainConfig", "TrainingDivergedError", "evaluate", "train"]
