"""Everything a training run needs, in one validated record (filled from absl flags by apps/train.py)."""

import dataclasses
from typing import Optional

LR_SCHEDULES = ("constant", "step", "cosine")
BOUNDARY_UNITS = ("epoch", "step")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# Builder arguments the training app sets itself: the dataset's class count, and logits for the loss.
TRAINER_SET_ARGUMENTS = ("classes", "classifier_activation")


def resolve_recipe(recipe, model_name):
    """The augmentation recipe: `recipe`, or for "auto" the one of the dataset the model was registered for."""
    if recipe != "auto":
        return recipe
    from keras_resnets.models.registry import model_info

    return "cifar" if model_info(model_name).dataset == "cifar" else "imagenet"


@dataclasses.dataclass
class TrainConfig:
    model: str = "resnet20"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    dataset: str = "sample"
    data_dir: Optional[str] = None
    recipe: str = "auto"  # "cifar", "imagenet", "none" or "auto" (from the model's dataset)
    image_size: Optional[int] = None
    train_split: str = "train"
    eval_split: str = "test"
    train_examples: Optional[int] = None  # use only the first N examples (quick runs, tests)
    eval_examples: Optional[int] = None
    batch_size: int = 128  # global, over all replicas
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
    seed: Optional[int] = None
    eval_only: bool = False
    verbose: int = 1

    def validate(self):
        reserved = sorted(set(TRAINER_SET_ARGUMENTS) & set(self.model_overrides))
        checks = [
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"),
            (
                self.lr_boundaries_unit in BOUNDARY_UNITS,
                f"lr_boundaries_unit must be one of {BOUNDARY_UNITS}, got {self.lr_boundaries_unit!r}",
            ),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
            (self.epochs >= 1 or self.train_steps >= 1, "epochs or train_steps must be >= 1"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (0.0 <= self.label_smoothing < 1.0, f"label_smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.num_cpu_devices >= 1, f"num_cpu_devices must be >= 1, got {self.num_cpu_devices}"),
            (
                not reserved,
                f"model_overrides cannot set {reserved}: the training app takes the number of classes from the "
                "dataset and trains on logits",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message + ".")
        return self
