"""What QAT and pruning share in the tf_keras child: the prologue (options, the flat twin with the model's weights,
the data through the package's input pipeline, the report's first numbers), the fine-tuning fit, and the
description of each converted flatbuffer."""

import dataclasses

from keras_resnets.backend import keras
from keras_resnets.data import input_pipeline
from keras_resnets.data.options import resolve_recipe
from keras_resnets.export.calibration import calibration_images
from keras_resnets.export.litert import file_sizes, float_operators, operators, tflite_accuracy
from keras_resnets.export.tfmot.flat_weights import build_flat_twin, load_flat_weights, read_flat_weights
from keras_resnets.export.tfmot.options import FinetuneOptions
from keras_resnets.export.verify import keras_accuracy


@dataclasses.dataclass
class Finetuning:
    """A task's starting point: the flat tf_keras twin holding the model's weights, its data, its report so far."""

    options: FinetuneOptions
    spec: dict  # how the model is rebuilt (flat_weights.model_spec)
    flat: object
    train: object  # endless training batches
    evaluation: object
    calibration: object  # training images for the float -> int8 conversions
    steps_per_epoch: int
    steps: int  # optimizer steps in all
    report: dict

    @property
    def from_logits(self):
        return self.spec["overrides"].get("classifier_activation") is None


def start(request):
    """The prologue of every fine-tuning task: validated options, twin, weights, data, the float accuracy."""
    options = FinetuneOptions(**request["options"]).validate()
    _, spec = read_flat_weights(request["weights"])
    flat = build_flat_twin(spec)
    load_flat_weights(flat, request["weights"])
    train, evaluation, calibration, steps_per_epoch, info = datasets(options, spec["model"])
    check_classes(spec, info)
    report = {"model": spec["model"], "overrides": spec["overrides"], "dataset": options.dataset,
              "eval_split": options.eval_split, "io_type": options.io_type,
              "float_accuracy": keras_accuracy(flat, evaluation)}
    steps = options.train_steps or options.epochs * steps_per_epoch
    return Finetuning(options, spec, flat, train, evaluation, calibration, steps_per_epoch, steps, report)


def datasets(options, model_name):
    """(endless training batches, evaluation batches, calibration images, steps per epoch, info)."""
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


def check_classes(spec, info):
    classes = spec.get("classes")
    if classes is not None and info.num_classes is not None and classes != info.num_classes:
        raise ValueError(
            f"The model has {classes} classes but the dataset {info.name!r} has {info.num_classes}: "
            "fine-tune on the dataset the model was trained on."
        )


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


def fine_tune(run, model, callbacks=()):
    """`fit` of `model` with the task's options, data and steps; the history and steps go into the report."""
    run.report["history"] = fit(model, run.options, run.train, run.steps, run.steps_per_epoch, run.from_logits,
                                callbacks)
    run.report["steps"] = run.steps


def describe(content, evaluation):
    """Accuracy, operators, float-computing operators, raw and gzipped size of a flatbuffer."""
    return {
        "int8_accuracy": tflite_accuracy(content, evaluation),
        "operators": sorted({name for name, _ in operators(content)}),
        "float_operators": float_operators(content),
        **file_sizes(content),
    }


def write_tflite(content, path, evaluation):
    """Writes the task's `.tflite` and returns its description with its path."""
    with open(path, "wb") as file:
        file.write(content)
    return {"path": path, **describe(content, evaluation)}
