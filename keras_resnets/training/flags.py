"""The absl flags of apps/train.py, defined from TrainConfig so that the two never drift apart."""

from absl import flags

from keras_resnets import cli
from keras_resnets.data import options as data_options
from keras_resnets.training.config import BOUNDARY_UNITS, DATA_CHECKS, LR_SCHEDULES, PRECISIONS, TrainConfig
from keras_resnets.training.strategy import STRATEGIES

HELP = {
    **data_options.HELP,
    "eval_split": "Split to evaluate on after every epoch.",
    "model": "Registered model name (keras_resnets.list_models()).",
    "model_overrides": 'JSON object of builder arguments, e.g. {"placement": "b", "dropout_rate": 0.3}.',
    "epochs": "Epochs to train (ignored when --train_steps is set).",
    "train_steps": "Total optimizer steps (the 2015 paper stops at 64k); overrides --epochs.",
    "checkpoint_every_steps": "Also back up every N steps within an epoch (long epochs); 0: after each epoch only.",
    "learning_rate": "Base learning rate.",
    "lr_base_batch_size": "Scale the learning rate by batch_size / this (linear scaling rule); 0 disables.",
    "lr_schedule": "constant | step | cosine.",
    "lr_boundaries": "Step schedule: where the rate is multiplied by --lr_decay_factor.",
    "lr_boundaries_unit": "Unit of --lr_boundaries: epoch or step.",
    "lr_decay_factor": "Step schedule: factor applied at each boundary.",
    "warmup_epochs": "Warm-up length in epochs (linear for cosine, constant for step).",
    "warmup_steps": "Warm-up length in steps (overrides --warmup_epochs).",
    "warmup_learning_rate": "Step schedule: the constant warm-up rate (ResNet-110: 0.01).",
    "momentum": "SGD momentum.",
    "nesterov": "Use Nesterov momentum.",
    "weight_decay": "L2 weight decay on conv and dense kernels (not BatchNorm, not biases).",
    "label_smoothing": "Label smoothing of the cross-entropy.",
    "strategy": "; ".join(f"{name}: {text}" for name, text in STRATEGIES.items()),
    "num_cpu_devices": "Split the CPU into N logical devices (mirrored training on a CPU-only machine).",
    "tpu": "TPU name or address for --strategy=tpu.",
    "precision": "float32 | mixed_float16 | mixed_bfloat16 (the classifier stays float32).",
    "jit_compile": "Compile the training step with XLA.",
    "model_dir": "Where logs, backups, the final model and metrics go.",
    "eval_only": "Only evaluate the model saved in --model_dir; where there is none, with --weights, those "
                 "pretrained weights (top-1 and top-5 in --model_dir/metrics.json).",
    "weights": "Start from these weights: imagenet, timm/<model>.<tag> or a weights file; a checkpoint with "
               "another class count gives its backbone and a new head for the dataset's classes.",
    "freeze_backbone": "Train only the new head; the backbone, BatchNorm included, stays as --weights has it.",
    "backbone_learning_rate_multiplier": "The backbone's learning rate relative to the head's (fine-tuning).",
    "validate_data": "Check labels, images and records before training: auto (TFRecords and folders up to "
                     "100,000 examples), always, or never.",
    "overwrite": "Start over in a --model_dir that holds a finished or interrupted run (deletes that run).",
    "verbose": "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.",
}
ENUMS = {
    "recipe": data_options.RECIPE_CHOICES,
    "validate_data": tuple(DATA_CHECKS),
    "lr_schedule": LR_SCHEDULES,
    "lr_boundaries_unit": BOUNDARY_UNITS,
    "precision": PRECISIONS,
    "strategy": tuple(STRATEGIES),
}


def define_flags(flag_values=flags.FLAGS):
    cli.define_record_flags(TrainConfig, HELP, __name__, ENUMS, flag_values)


def config_from_flags(flag_values=flags.FLAGS):
    boundaries = flag_values["lr_boundaries"].value
    try:
        boundaries = tuple(float(value) for value in boundaries)
    except ValueError as error:
        raise ValueError(f"--lr_boundaries must be numbers, got {boundaries}.") from error
    overrides = cli.parse_json_object("model_overrides", flag_values["model_overrides"].value)
    return cli.record_from_flags(TrainConfig, flag_values, model_overrides=overrides,
                                 lr_boundaries=boundaries).validate()
