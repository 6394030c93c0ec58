"""What a run reads: one record of data settings and one rule for the preprocessing recipe of a model.

`DataOptions` is the data part of the training app's TrainConfig and of QAT/pruning's FinetuneOptions (both
extend it), so `--dataset`, `--recipe`, `--batch_size`, ... mean the same in every program and one flagfile can
feed them all. `auto_recipe` is the one rule for `recipe="auto"`, used by training, fine-tuning and
post-training quantization alike: the same model always gets the same preprocessing.
"""

import dataclasses
import typing
from typing import Optional

from keras_resnets.data.augment import RECIPES
from keras_resnets.models.registry import list_models, model_info

RECIPE_CHOICES = ("auto", *RECIPES)
# Models up to this input height that no registry entry describes are CIFAR-style (keras.applications and
# foreign models at 32 px, say); larger ones get the ImageNet evaluation (resize + center crop).
CIFAR_MAX_HEIGHT = 64
# Minimum of every integer setting (None, where the field allows it, means "not set").
INTEGER_MINIMUMS = {"image_size": 1, "train_examples": 1, "eval_examples": 1, "batch_size": 1, "seed": 0}
HELP = {
    "dataset": "sample | synthetic | tfrecord:<dir> | folder:<root> | a tensorflow-datasets name (cifar10, ...).",
    "data_dir": "tensorflow-datasets data directory.",
    "recipe": "Augmentation and normalization: cifar, imagenet, none, or auto (from the model's dataset).",
    "image_size": "Training/eval image size (default: the dataset's, or 224 for the imagenet recipe).",
    "train_split": "Split to train on.",
    "eval_split": "Split to evaluate on.",
    "train_examples": "Use only the first N training examples.",
    "eval_examples": "Use only the first N evaluation examples.",
    "batch_size": "Global batch size, split evenly over the replicas.",
    "seed": "Random seed for weights, data order and augmentation.",
}


def auto_recipe(model_name, input_height=None):
    """The recipe of the dataset a model is made for: a registered model's own dataset (`cifar` or `imagenet`,
    keras_resnets.model_info), else `cifar` up to CIFAR_MAX_HEIGHT pixels of input and `imagenet` above."""
    if model_name in list_models():
        return "cifar" if model_info(model_name).dataset == "cifar" else "imagenet"
    return "cifar" if (input_height or 224) <= CIFAR_MAX_HEIGHT else "imagenet"


def resolve_recipe(recipe, model_name, input_height=None):
    """`recipe`, or for "auto" the one `auto_recipe` gives the model."""
    check_setting_choice("recipe", recipe, RECIPE_CHOICES)
    return auto_recipe(model_name, input_height) if recipe == "auto" else recipe


def check_setting_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"--{name} must be one of {', '.join(map(str, allowed))}; got {value!r}.")


def check_setting_integer(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        unset = " (or unset)" if allow_none else ""
        raise ValueError(f"--{name} must be an integer >= {minimum}{unset}; got {value!r}.")


def allows_none(record_type, name):
    """True when the field `name` of the dataclass `record_type` is Optional."""
    return type(None) in typing.get_args(record_type.__dataclass_fields__[name].type)


@dataclasses.dataclass
class DataOptions:
    dataset: str = "sample"
    data_dir: Optional[str] = None
    recipe: str = "auto"  # "cifar", "imagenet", "none" or "auto" (auto_recipe)
    image_size: Optional[int] = None
    train_split: str = "train"
    eval_split: str = "test"
    train_examples: Optional[int] = None  # use only the first N examples (quick runs, tests)
    eval_examples: Optional[int] = None
    batch_size: int = 128  # global, over all replicas
    seed: Optional[int] = None

    def check_data(self):
        """Checks the data settings; a ValueError names the flag, the value and what is allowed."""
        check_setting_choice("recipe", self.recipe, RECIPE_CHOICES)
        for name, minimum in INTEGER_MINIMUMS.items():
            check_setting_integer(name, getattr(self, name), minimum, allows_none(type(self), name))
        return self
