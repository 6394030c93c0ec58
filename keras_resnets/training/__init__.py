"""Training: strategies, schedules, the weight-decayed optimizer, callbacks and the fit loop of apps/train.py."""

from keras_resnets.training.config import TrainConfig
from keras_resnets.training.trainer import TrainingDivergedError, evaluate, train

__all__ = ["TrainConfig", "TrainingDivergedError", "evaluate", "train"]
