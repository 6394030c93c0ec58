"""Everything a training run needs, in one validated record (filled from absl flags by apps/train.py)."""

import dataclasses
import inspect
import math
from typing import Optional

from keras_resnets.data.options import DataOptions, allows_none, check_setting_choice, check_setting_integer
from keras_resnets.models.registry import model_info

LR_SCHEDULES = ("constant", "step", "cosine")
BOUNDARY_UNITS = ("epoch", "step")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# When the data is checked before training (labels, decodable images, intact records): "auto" checks splits of
# TFRecords and image folders up to keras_resnets.data's size limit.
DATA_CHECKS = {"auto": "auto", "always": True, "never": False}
# Builder arguments the training app sets itself: the dataset's class count, and logits for the loss.
TRAINER_SET_ARGUMENTS = ("classes", "classifier_activation")


@dataclasses.dataclass
class TrainConfig(DataOptions):
    """The data settings (DataOptions) and everything else a training run needs."""

    model: str = "resnet20"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    validate_data: str = "auto"  # "auto", "always" or "never" (DATA_CHECKS)
    epochs: int = 1
    train_steps: int = 0  # total optimizer steps; overrides `epochs` (He et al. 2015: 64k)
    checkpoint_every_steps: int = 0  # 0: back up after every epoch
    learning_rate: float = 0.1
    lr_base_batch_size: int = 0  # scale the learning rate by batch_size / this (0: no scaling)
    lr_schedule: str = "cosine"
    lr_boundaries: tuple = ()
    lr_boundaries_unit: str = "epoch"
    lr_decay_factor: float = 0.1
    warmup_epochs: float = 0.0
    warmup_steps: int = 0
    warmup_learning_rate: Optional[float] = None  # constant warm-up value for the step schedule
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    strategy: str = "default"
    num_cpu_devices: int = 1
    tpu: Optional[str] = None
    precision: str = "float32"
    jit_compile: bool = False
    model_dir: str = "runs/default"
    eval_only: bool = False
    weights: Optional[str] = None  # start from (or with --eval_only, evaluate): what the builders' `weights` take
    freeze_backbone: bool = False  # train only the new head (keras_resnets.training.transfer)
    backbone_learning_rate_multiplier: float = 1.0
    overwrite: bool = False  # start over in a model_dir that holds a finished or interrupted run
    verbose: int = 1

    def validate(self):
        """Checks every setting; a ValueError names the flag, the value and what is allowed."""
        self.check_data()
        check_setting_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_setting_choice("lr_boundaries_unit", self.lr_boundaries_unit, BOUNDARY_UNITS)
        check_setting_choice("precision", self.precision, PRECISIONS)
        check_setting_choice("validate_data", self.validate_data, tuple(DATA_CHECKS))
        check_setting_choice("verbose", self.verbose, VERBOSITY)
        for name, minimum in INTEGER_MINIMUMS.items():
            check_setting_integer(name, getattr(self, name), minimum, allows_none(TrainConfig, name))
        for name, interval in NUMBER_INTERVALS.items():
            _check_number(name, getattr(self, name), interval)
        for boundary in self.lr_boundaries:
            _check_number("lr_boundaries", boundary, Interval(0))
        if list(self.lr_boundaries) != sorted(set(self.lr_boundaries)):
            raise ValueError(f"--lr_boundaries must increase; got {list(self.lr_boundaries)}.")
        if self.epochs < 1 and self.train_steps < 1:
            raise ValueError("--epochs or --train_steps must be >= 1; got 0 for both.")
        if not self.model_dir:
            raise ValueError("--model_dir must name a directory; got ''.")
        _check_model_overrides(self.model, self.model_overrides)
        _check_weights(self)
        return self


@dataclasses.dataclass(frozen=True)
class Interval:
    """Finite numbers from `low` (excluded when `low_open`) up to, and excluding, `high`."""

    low: float
    high: float = math.inf
    low_open: bool = False

    def __contains__(self, value):
        return math.isfinite(value) and (value > self.low if self.low_open else value >= self.low) and value < self.high

    def __str__(self):
        low = f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"a finite number {low}" + ("" if self.high == math.inf else f" and < {self.high:g}")


# Minimum of every integer setting beyond the data settings' (None, where the field allows it, means "not set").
INTEGER_MINIMUMS = {
    "epochs": 0, "train_steps": 0, "checkpoint_every_steps": 0, "lr_base_batch_size": 0, "warmup_steps": 0,
    "num_cpu_devices": 1,
}
NUMBER_INTERVALS = {
    "learning_rate": Interval(0, low_open=True),
    "lr_decay_factor": Interval(0, low_open=True),
    "warmup_epochs": Interval(0),
    "warmup_learning_rate": Interval(0, low_open=True),
    "momentum": Interval(0, 1),
    "weight_decay": Interval(0),
    "label_smoothing": Interval(0, 1),
    "backbone_learning_rate_multiplier": Interval(0),
}
VERBOSITY = (0, 1, 2)
# Settings that say where and how fast a run trains, not what it trains: the starts of one run may differ in them.
# A resumed run must keep every other setting (keras_resnets.training.run_dir).
FREE_ON_RESUME = ("model_dir", "overwrite", "eval_only", "verbose", "validate_data", "checkpoint_every_steps", "strategy",
                  "num_cpu_devices", "tpu", "jit_compile", "data_dir")


def _check_number(name, value, interval):
    if value is None and allows_none(TrainConfig, name):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in interval:
        raise ValueError(f"--{name} must be {interval}; got {value!r}.")


def _check_weights(config):
    from keras_resnets.pretrained import checkpoint_id, is_hub_weights

    if (config.freeze_backbone or config.backbone_learning_rate_multiplier != 1.0) and config.weights is None:
        raise ValueError("--freeze_backbone and --backbone_learning_rate_multiplier need --weights to start from.")
    if is_hub_weights(config.weights):
        checkpoint_id(config.weights, config.model)  # a model without published weights fails before any data


def _check_model_overrides(model, overrides):
    reserved = sorted(set(TRAINER_SET_ARGUMENTS) & set(overrides))
    if reserved:
        raise ValueError(f"--model_overrides cannot set {reserved}: the training app takes the number of classes "
                         "from the dataset and trains on logits.")
    parameters = inspect.signature(model_info(model).builder).parameters
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
        return
    unknown = sorted(set(overrides) - set(parameters))
    if unknown:
        allowed = [name for name in parameters if name not in (*TRAINER_SET_ARGUMENTS, "name")]
        raise ValueError(f"--model_overrides sets {', '.join(unknown)}, which {model!r} does not take; it takes "
                         f"{', '.join(allowed)}.")
