"""What QAT and pruning share: their options, data (the package's input pipeline), the fine-tuning fit."""

import dataclasses
from typing import Optional


from keras_resnets.export.converter import IO_TYPES


@dataclasses.dataclass
class FinetuneOptions:
    """Data and fine-tuning settings; the data fields mean what the training app's flags of the same name mean."""

    dataset: str = "sample"
    data_dir: Optional[str] = None
    recipe: str = "auto"
    image_size: Optional[int] = None
    train_split: str = "train"
    eval_split: str = "test"
    train_examples: Optional[int] = None
    eval_examples: Optional[int] = None
    batch_size: int = 128
    epochs: int = 1
    train_steps: int = 0  # total optimizer steps; overrides `epochs`
    learning_rate: float = 1e-3  # fine-tuning: small, decayed by a cosine to 0
    momentum: float = 0.9
    freeze_batch_norm: bool = False  # BN uses (and keeps) its moving statistics; gamma and beta stay fixed
    seed: Optional[int] = None
    calibration_examples: int = 256  # training images that calibrate the float -> int8 (PTQ) conversions
    io_type: str = "int8"  # input/output type of the .tflite: int8, uint8 or float32
    verbose: int = 2

    def validate(self):
        checks = [
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 1 or self.train_steps >= 1, "epochs or train_steps must be >= 1"),
            (self.train_steps >= 0, f"train_steps must be >= 0, got {self.train_steps}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (self.calibration_examples >= 1, f"calibration_examples must be >= 1, got {self.calibration_examples}"),
            (self.io_type in IO_TYPES, f"io_type must be one of {sorted(IO_TYPES)}, got {self.io_type!r}"),
            (self.recipe in ("auto", "cifar", "imagenet", "none"),
             f"recipe must be auto, cifar, imagenet or none, got {self.recipe!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message + ".")
        return self


def datasets(options, model_name):
    """(endless training batches, evaluation batches, calibration images, steps per epoch, info)."""
    from keras_resnets.data import input_pipeline
    from keras_resnets.export.calibration import calibration_images
    from keras_resnets.training.config import resolve_recipe

    recipe = resolve_recipe(options.recipe, model_name)
    common = dict(recipe=recipe, image_size=options.image_size, data_dir=options.data_dir)
    train, info = input_pipeline(options.dataset, options.train_split, options.batch_size, training=True,
                                 drop_remainder=True, take=options.train_examples, seed=options.seed, **common)
    evaluation, _ = input_pipeline(options.dataset, options.eval_split, options.batch_size, training=False,
                                   take=options.eval_examples, **common)
    calibration = calibration_images(options.dataset, options.train_split, options.calibration_examples, recipe,
                                     options.image_size, data_dir=options.data_dir)
    examples = options.train_examples or (info.num_examples or {}).get(options.train_split)
    if not examples:
        examples = sum(int(images.shape[0]) for images, _ in train)
    steps_per_epoch = max(examples // options.batch_size, 1)
    return train.repeat(), evaluation, calibration, steps_per_epoch, info


def total_steps(options, steps_per_epoch):
    return options.train_steps or options.epochs * steps_per_epoch


def batch_norm_layers(model):
    """The model's BatchNormalization layers, also those inside tfmot's wrappers (QAT, pruning)."""
    found = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if type(inner).__name__ == "BatchNormalization":
            found.append(inner)
    return found


def apply_batch_norm_option(model, options):
    """Freezes the BatchNorm layers when `options.freeze_batch_norm`; returns how many were frozen."""
    if not options.freeze_batch_norm:
        return 0
    layers = batch_norm_layers(model)
    for layer in layers:
        # A non-trainable tf_keras BatchNormalization runs in inference mode: a converged model's statistics
        # stay as they are instead of being re-estimated from fake-quantized or pruned activations.
        layer.trainable = False
    return len(layers)


def fit(model, options, train, steps, steps_per_epoch, from_logits, callbacks=()):
    """Fine-tunes `model` (tf_keras) for `steps` SGD steps with a cosine-decayed learning rate."""
    from keras_resnets.backend import keras

    schedule = keras.optimizers.schedules.CosineDecay(options.learning_rate, decay_steps=max(steps, 1))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=options.momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    per_epoch = steps_per_epoch if steps % steps_per_epoch == 0 else steps  # exactly `steps` steps in all
    epochs = steps // per_epoch
    history = model.fit(train, epochs=epochs, steps_per_epoch=per_epoch, callbacks=list(callbacks),
                        verbose=options.verbose)
    return {key: [float(value) for value in values] for key, values in history.history.items()}
