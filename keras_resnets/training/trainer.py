"""The fit loop behind apps/train.py: data, strategy, model, recipe, resumable `model.fit`, results."""

import dataclasses
import functools
import json
import math
import os
import time

import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.data import input_pipeline
from keras_resnets.models.registry import create_model
from keras_resnets.training.callbacks import DivergenceGuard, StopAtStep, Throughput
from keras_resnets.training.config import resolve_recipe
from keras_resnets.training.optimizer import KernelDecaySGD
from keras_resnets.training.schedules import CosineWithWarmup, PiecewiseWithWarmup
from keras_resnets.training.strategy import create_strategy, per_replica_batch, split_cpu

RUN_FILE = "run.json"


class TrainingDivergedError(RuntimeError):
    pass


def _one_hot(classes):
    return lambda images, labels: (images, tf.one_hot(tf.cast(labels, tf.int32), classes))


def _datasets(config, backup_dir=None):
    """(training stream, evaluation data, info, steps per epoch, the step the training stream starts at).

    The training stream is endless and, for a run that resumes from `backup_dir`, starts where the interrupted
    run's data was at its backup, so the resumed run trains on what the uninterrupted one would have.
    """
    recipe = resolve_recipe(config.recipe, config.model)
    common = dict(recipe=recipe, image_size=config.image_size, data_dir=config.data_dir, seed=config.seed)
    training_stream = functools.partial(
        input_pipeline, config.dataset, config.train_split, config.batch_size, training=True, drop_remainder=True,
        take=config.train_examples, repeat=True, **common,
    )
    train, info = training_stream()
    evaluation, _ = input_pipeline(
        config.dataset, config.eval_split, config.batch_size, training=False, take=config.eval_examples, **common
    )
    examples = config.train_examples or (info.num_examples or {}).get(config.train_split)
    if not examples:
        raise ValueError(
            f"The size of split {config.train_split!r} of {config.dataset!r} is unknown; pass --train_examples."
        )
    steps_per_epoch = examples // config.batch_size
    start_step = backed_up_step(backup_dir, config.checkpoint_every_steps or steps_per_epoch) if backup_dir else 0
    if start_step:
        train, _ = training_stream(start_batch=start_step)
    options = tf.data.Options()
    # The sources are a few files: shard by example, not by file, across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # `repeat=True`: an endless stream, the same for every iterator made from it, whatever the strategy.
    stream = train.map(_one_hot(info.num_classes)).with_options(options)
    evaluation = evaluation.map(_one_hot(info.num_classes)).with_options(options)
    return stream, evaluation, info, steps_per_epoch, start_step


def backed_up_step(backup_dir, loop_steps):
    """The optimizer step of the backup that BackupAndRestore restores from `backup_dir` (0 when there is none).

    The callback saves after each fit epoch of `loop_steps` steps and records how many fit epochs were done.
    """
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as file:
        return int(json.load(file)["epoch"]) * loop_steps


def _schedule(config, steps_per_epoch, total_steps):
    base = config.learning_rate
    if config.lr_base_batch_size:
        base *= config.batch_size / config.lr_base_batch_size
    warmup = config.warmup_steps or int(round(config.warmup_epochs * steps_per_epoch))
    if config.lr_schedule == "cosine":
        return CosineWithWarmup(base, total_steps, warmup)
    boundaries = [] if config.lr_schedule == "constant" else config.lr_boundaries
    unit = steps_per_epoch if config.lr_boundaries_unit == "epoch" else 1
    return PiecewiseWithWarmup(
        base, [int(round(b * unit)) for b in boundaries], config.lr_decay_factor, warmup, config.warmup_learning_rate
    )


def _check_model_dir(config):
    """A model_dir belongs to one model: refuse to resume another model's backup."""
    os.makedirs(config.model_dir, exist_ok=True)
    path = os.path.join(config.model_dir, RUN_FILE)
    identity = {"model": config.model, "model_overrides": config.model_overrides, "dataset": config.dataset}
    if os.path.exists(path):
        with open(path) as file:
            previous = json.load(file)
        if {key: previous.get(key) for key in identity} != identity:
            raise ValueError(
                f"model_dir {config.model_dir!r} holds a run of {previous.get('model')!r} on "
                f"{previous.get('dataset')!r} (overrides {previous.get('model_overrides')}); this run is "
                f"{config.model!r} on {config.dataset!r} (overrides {config.model_overrides}). "
                "Use another --model_dir, or delete that one to start over."
            )
    with open(path, "w") as file:
        json.dump({**identity, "config": dataclasses.asdict(config)}, file, indent=2, default=str)


def _build(config, info, strategy):
    with strategy.scope():
        image_size = config.image_size or (info.image_size[0] if info.image_size else None)
        input_shape = (image_size, image_size, 3) if image_size else None
        overrides = {"input_shape": input_shape, **config.model_overrides}
        model = create_model(config.model, classes=info.num_classes, classifier_activation=None, **overrides)
        return model


def _compile(model, config, schedule, classes):
    optimizer = KernelDecaySGD(
        l2=config.weight_decay, learning_rate=schedule, momentum=config.momentum, nesterov=config.nesterov
    )
    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if classes > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5"))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing),
        metrics=metrics,
        jit_compile=config.jit_compile,
    )


def _prepare_process(config):
    split_cpu(config.num_cpu_devices)
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)


def _worker_model_dir(config, strategy):
    """Where this process writes. Every worker of a multi-worker run trains, backs up and saves (all started with
    the same command line), so only the chief writes to model_dir; the others write to model_dir/<task>_<index>,
    which keeps each one's backup for a restart and keeps their appends out of the chief's metrics.csv."""
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.task_type or strategy.extended.should_checkpoint:
        return config.model_dir
    return os.path.join(config.model_dir, f"{resolver.task_type}_{resolver.task_id}")


def train(config):
    """Trains `config.model` and writes model.keras, metrics.csv, metrics.json and TensorBoard logs to
    `config.model_dir`. Started again with the same config after a kill, it resumes from the last backup."""
    config.validate()
    _prepare_process(config)
    strategy = create_strategy(config.strategy, config.tpu)
    per_replica_batch(config.batch_size, strategy)
    config = dataclasses.replace(config, model_dir=_worker_model_dir(config, strategy))
    backup_dir = os.path.join(config.model_dir, "backup")
    train_data, eval_data, info, steps_per_epoch, start_step = _datasets(config, backup_dir)
    _check_model_dir(config)  # after the data checks, so that a failed start leaves no run behind
    total_steps = config.train_steps or config.epochs * steps_per_epoch
    loop_steps = config.checkpoint_every_steps or steps_per_epoch
    if start_step and config.verbose:
        print(f"Resuming from the backup in {backup_dir} at step {start_step}.")
    model = _build(config, info, strategy)
    with strategy.scope():
        _compile(model, config, _schedule(config, steps_per_epoch, total_steps), info.num_classes)
    guard, throughput = DivergenceGuard(), Throughput(config.batch_size)
    callbacks = [
        keras.callbacks.BackupAndRestore(backup_dir),
        StopAtStep(total_steps),
        guard,
        throughput,
        keras.callbacks.CSVLogger(os.path.join(config.model_dir, "metrics.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(config.model_dir, "tensorboard")),
    ]
    start = time.perf_counter()
    history = model.fit(
        train_data,  # endless: an epoch is `loop_steps` batches
        epochs=math.ceil(total_steps / loop_steps),
        steps_per_epoch=loop_steps,
        validation_data=eval_data,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles
        verbose=config.verbose,
    )
    if guard.diverged_at is not None:
        raise TrainingDivergedError(
            f"The loss became NaN or infinite at step {guard.diverged_at}; the run stopped. Lower --learning_rate, "
            "add warm-up (--warmup_epochs), or use float32 precision."
        )
    wall_time = time.perf_counter() - start
    model.save(os.path.join(config.model_dir, "model.keras"))
    test_accuracy = history.history.get("val_accuracy", [])
    results = {
        "model": config.model,
        "dataset": config.dataset,
        "steps": int(model.optimizer.iterations.numpy()),
        "final_test_accuracy": test_accuracy[-1] if test_accuracy else None,
        "best_test_accuracy": max(test_accuracy) if test_accuracy else None,
        "images_per_second": throughput.images_per_second,
        "wall_time_s": wall_time,
        "replicas": strategy.num_replicas_in_sync,
    }
    with open(os.path.join(config.model_dir, "metrics.json"), "w") as file:
        json.dump(results, file, indent=2)
    return results


def evaluate(config, model_path=None):
    """Evaluates a saved model (default: model_dir/model.keras) on the eval split; writes eval.json."""
    config.validate()
    _prepare_process(config)
    path = model_path or os.path.join(config.model_dir, "model.keras")
    if not os.path.isfile(path):
        raise ValueError(f"No saved model at {path!r}: train first, or pass the path of a .keras file.")
    strategy = create_strategy(config.strategy, config.tpu)
    _, eval_data, info, _, _ = _datasets(config)
    with strategy.scope():
        model = keras.saving.load_model(path)
    results = model.evaluate(eval_data, verbose=config.verbose, return_dict=True)
    with open(os.path.join(os.path.dirname(path), "eval.json"), "w") as file:
        json.dump(results, file, indent=2)
    return results
