"""The training runs a trained-network study reads: one run directory of apps/train.py per net.

A study never trains by its own loop. `obtain` reads a finished run whose run.json matches the study's recipe,
or trains a missing one through `keras_resnets.training.train` with that recipe; a run directory that holds
another model or recipe is an error, never silently reused.
"""

import csv
import dataclasses
import json
import os

from keras_resnets.studies.common import StudyError

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.csv"
FINISHED_FILE = "metrics.json"  # the training app writes it last, after model.keras
# The run.json config entries that must match for a run to count as made by the study's recipe.
RECIPE_KEYS = (
    "model", "model_overrides", "dataset", "recipe", "train_examples", "eval_examples", "batch_size", "epochs",
    "train_steps", "learning_rate", "lr_schedule", "lr_boundaries", "lr_boundaries_unit", "lr_decay_factor",
    "warmup_epochs", "warmup_steps", "warmup_learning_rate", "momentum", "weight_decay", "label_smoothing", "seed",
)
# He et al. 2015, Sec. 4.2: 64k iterations of batch 128, learning rate 0.1 divided by 10 at 32k and 48k; nets
# of 110 layers and more warm up at 0.01 for about 400 iterations.
PAPER_STEPS, PAPER_BOUNDARIES, PAPER_WARMUP_STEPS, PAPER_WARMUP_RATE = 64000, (32000, 48000), 400, 0.01


def _help(text):
    return {"help": text}


@dataclasses.dataclass
class RunsDir:
    """Where a study finds its training runs (the field is a setting of every trained-network study)."""

    runs_dir: str = dataclasses.field(
        default="runs/studies", metadata=_help("Directory of the training runs, one sub-directory per net.")
    )


@dataclasses.dataclass
class TrainedResNet(RunsDir):
    """The settings of a study that measures one trained ResNet run on test images."""

    resnet: str = dataclasses.field(default="resnet56", metadata=_help("Run (sub-directory) of the trained ResNet."))
    dataset: str = dataclasses.field(
        default="", metadata=_help("Dataset to measure on (default: the one the runs were trained on).")
    )
    seed: int = dataclasses.field(default=0, metadata=_help("Random seed."))


@dataclasses.dataclass
class Recipe(RunsDir):
    """The one training recipe of every net a study compares (the fields are the study's settings)."""

    dataset: str = dataclasses.field(
        default="tfrecord:../shared/data/cifar10", metadata=_help("Dataset of the training runs (as apps/train.py).")
    )
    epochs: int = dataclasses.field(default=10, metadata=_help("Training epochs (cosine schedule over them)."))
    batch_size: int = dataclasses.field(default=128, metadata=_help("Training batch size."))
    learning_rate: float = dataclasses.field(default=0.1, metadata=_help("Peak learning rate."))
    momentum: float = dataclasses.field(default=0.9, metadata=_help("SGD momentum."))
    weight_decay: float = dataclasses.field(default=1e-4, metadata=_help("Weight decay on conv/dense kernels."))
    # At lr 0.1 from the first step, ResNet-56 diverges within a few iterations on this short schedule and never
    # recovers (He et al. 2015 warm up their deepest CIFAR net for the same reason); two epochs of linear warm-up,
    # the same for every net, let all depths start.
    warmup_epochs: float = dataclasses.field(
        default=2.0, metadata=_help("Epochs of linear learning-rate warm-up before the cosine schedule.")
    )
    seed: int = dataclasses.field(default=0, metadata=_help("Random seed of the training runs."))
    paper_recipe: bool = dataclasses.field(
        default=False,
        metadata=_help(
            "The papers' full length instead of the CPU-sized runs: all training and test images, 64k iterations, "
            "learning rate /10 at 32k and 48k (plus a 400-iteration warm-up at 0.01 from 110 layers on); ignores "
            "--epochs, --train_examples and --eval_examples. Needs a GPU."
        ),
    )
    train_examples: int = dataclasses.field(
        default=10000, metadata=_help("Train on the first N training images only (0: all).")
    )
    eval_examples: int = dataclasses.field(
        default=5000, metadata=_help("Measure the test error on the first N test images only (0: all).")
    )
    allow_unfinished: bool = dataclasses.field(
        default=False,
        metadata=_help(
            "Draw runs that are still training (or were stopped) from the epochs they have logged, and leave out "
            "nets without any, instead of training them; the figure marks them."
        ),
    )

    def validate_recipe(self):
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate}
        for name, value in positive.items():
            if value <= 0:
                raise StudyError(f"--{name} must be > 0, got {value}.")
        for name in ("train_examples", "eval_examples"):
            if getattr(self, name) < 0:
                raise StudyError(f"--{name} must be >= 0 (0: all), got {getattr(self, name)}.")
        if self.warmup_epochs < 0 or self.warmup_epochs >= self.epochs:
            raise StudyError(f"--warmup_epochs must be in [0, --epochs), got {self.warmup_epochs}.")
        if not 0 <= self.momentum < 1 or self.weight_decay < 0:
            raise StudyError(
                f"--momentum must be in [0, 1) and --weight_decay >= 0, got {self.momentum} and {self.weight_decay}."
            )

    def describe(self):
        """The recipe in a few words, for figures and summaries."""
        if self.paper_recipe:
            length = f"{PAPER_STEPS // 1000}k iterations, step schedule"
        else:
            subset = f"first {self.train_examples:,} training images" if self.train_examples else "all training images"
            tested = f"first {self.eval_examples:,} test images" if self.eval_examples else "all test images"
            warmup = f" after {self.warmup_epochs:g} warm-up epochs" if self.warmup_epochs else ""
            length = f"{self.epochs} epochs on the {subset}, cosine{warmup}, {tested}"
        return (f"{length}, batch {self.batch_size}, lr {self.learning_rate}, momentum {self.momentum}, "
                f"wd {self.weight_decay:g}, seed {self.seed}, {self.dataset}")

    def train_config(self, label, model, overrides, depth):
        """The TrainConfig of net `label` (registered `model` with builder `overrides`, `depth` layers)."""
        from keras_resnets.training import TrainConfig

        schedule = dict(epochs=self.epochs, lr_schedule="cosine", train_examples=self.train_examples or None,
                        eval_examples=self.eval_examples or None, warmup_epochs=self.warmup_epochs)
        if self.paper_recipe:
            schedule = dict(train_steps=PAPER_STEPS, lr_schedule="step", lr_boundaries=PAPER_BOUNDARIES,
                            lr_boundaries_unit="step")
            if depth >= 110:
                schedule.update(warmup_steps=PAPER_WARMUP_STEPS, warmup_learning_rate=PAPER_WARMUP_RATE)
        return TrainConfig(
            model=model, model_overrides=dict(overrides), dataset=self.dataset, batch_size=self.batch_size,
            learning_rate=self.learning_rate, momentum=self.momentum, weight_decay=self.weight_decay, seed=self.seed,
            model_dir=os.path.join(self.runs_dir, label), verbose=2, **schedule,
        )


def _as_json(value):
    return json.loads(json.dumps(value, default=str))


def read_run_file(run_dir):
    path = os.path.join(run_dir, RUN_FILE)
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise StudyError(f"{path!r} cannot be read as a training run's {RUN_FILE}: {error}.") from None


def check_recipe(run_dir, config):
    """Raises StudyError naming every difference between the run in `run_dir` and TrainConfig `config`."""
    recorded = read_run_file(run_dir).get("config", {})
    expected = _as_json(dataclasses.asdict(config))
    differences = [
        f"{key} {recorded.get(key)!r} (study: {expected[key]!r})"
        for key in RECIPE_KEYS
        if recorded.get(key) != expected[key]
    ]
    if differences:
        raise StudyError(
            f"Run directory {run_dir!r} holds a run of another model or recipe: {'; '.join(differences)}. "
            "Give the study that run's settings, or another --runs_dir."
        )


def is_finished(run_dir):
    return all(os.path.isfile(os.path.join(run_dir, name)) for name in (FINISHED_FILE, MODEL_FILE, METRICS_FILE))


def obtain(recipe, label, model, overrides=None, depth=0):
    """The run directory of net `label` made with `recipe`: read when finished, trained (or resumed) otherwise.
    With `recipe.allow_unfinished` an unfinished run is read as it is, and a net without a run is None."""
    config = recipe.train_config(label, model, overrides or {}, depth)
    run_dir = config.model_dir
    started = os.path.exists(os.path.join(run_dir, RUN_FILE))
    if started:
        check_recipe(run_dir, config)
        if is_finished(run_dir):
            return run_dir
    if recipe.allow_unfinished:
        return run_dir if started and os.path.isfile(os.path.join(run_dir, METRICS_FILE)) else None
    from keras_resnets.training import train

    print(f"Training {label} into {run_dir} ({recipe.describe()}).", flush=True)
    train(config)
    return run_dir


def read_curves(run_dir):
    """Per-epoch training and test error (%) from metrics.csv: {"epoch", "train_error", "test_error", ...}."""
    path = os.path.join(run_dir, METRICS_FILE)
    try:
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
    except OSError:
        raise StudyError(f"Run directory {run_dir!r} has no {METRICS_FILE}: no epoch of it has finished.") from None
    by_epoch = {}
    for row in rows:
        if row.get("epoch", "").isdigit():
            by_epoch[int(row["epoch"])] = row  # a resumed run may repeat an epoch: the last row counts
    if not by_epoch or any(key not in next(iter(by_epoch.values())) for key in ("accuracy", "val_accuracy")):
        raise StudyError(f"{path!r} has no per-epoch accuracy and val_accuracy rows.")
    epochs = sorted(by_epoch)
    return {
        "epoch": [epoch + 1 for epoch in epochs],
        "train_error": [100.0 * (1.0 - float(by_epoch[epoch]["accuracy"])) for epoch in epochs],
        "test_error": [100.0 * (1.0 - float(by_epoch[epoch]["val_accuracy"])) for epoch in epochs],
        "train_loss": [float(by_epoch[epoch]["loss"]) for epoch in epochs],
    }


def load_model(run_dir):
    """The trained model.keras of a run directory (a missing one is an error that says how to make it)."""
    path = os.path.join(run_dir, MODEL_FILE)
    if not os.path.isfile(path):
        state = "an unfinished run" if os.path.exists(os.path.join(run_dir, RUN_FILE)) else "no training run"
        raise StudyError(
            f"Run directory {run_dir!r} has no {MODEL_FILE} ({state}): train it first with apps/train.py "
            f"--model_dir={run_dir} (or the degradation study), then run this study again."
        )
    import keras_resnets  # noqa: F401  (registers the package's layers for loading)
    from keras_resnets.backend import keras

    return keras.saving.load_model(path, compile=False)


def run_settings(run_dir):
    """The TrainConfig entries recorded in a run's run.json (its dataset, recipe, model...)."""
    return read_run_file(run_dir).get("config", {})


def describe_run(run_dir):
    """'resnet56 (10 epochs on 10000 images)': a run's name and training length, for figures."""
    settings = run_settings(run_dir)
    length = f"{settings['train_steps']} steps" if settings.get("train_steps") else f"{settings.get('epochs')} epochs"
    images = settings.get("train_examples") or "all"
    return f"{os.path.basename(os.path.normpath(run_dir))} ({length} on {images} training images)"
