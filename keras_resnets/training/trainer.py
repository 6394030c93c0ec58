"""The fit loop behind apps/train.py: data, strategy, model, recipe, resumable `model.fit`, results."""

import dataclasses
import functools
import json
import math
import os
import sys

import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.data import input_pipeline
from keras_resnets.data.options import resolve_recipe
from keras_resnets.training import run_dir
from keras_resnets.training.backup import latest_backup, restore
from keras_resnets.training.callbacks import DivergenceGuard, StopAtStep, Throughput
from keras_resnets.training.config import DATA_CHECKS
from keras_resnets.training.journal import Journal
from keras_resnets.training.schedules import CosineWithWarmup, PiecewiseWithWarmup
from keras_resnets.training.strategy import create_strategy, per_replica_batch, split_cpu
from keras_resnets.training.transfer import (
    build_model, check_evaluable, optimizer_arguments, pipeline_overrides, prepare_backbone, requested_image_size,
    resolve_checkpoint,
)


class TrainingDivergedError(RuntimeError):
    pass


def _one_hot(classes):
    return lambda images, labels: (images, tf.one_hot(tf.cast(labels, tf.int32), classes))


def _distribution_options():
    options = tf.data.Options()
    # The sources are a few files: shard by example, not by file, across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _pipeline_arguments(config, checkpoint):
    recipe = resolve_recipe(config.recipe, config.model)
    return {**dict(recipe=recipe, image_size=config.image_size, data_dir=config.data_dir, seed=config.seed,
                   validate=DATA_CHECKS[config.validate_data]), **pipeline_overrides(config, checkpoint)}


def _training_data(config, start_step, checkpoint):
    """(stream_at, info, steps per epoch). `stream_at(step)` is the endless training stream from optimizer step
    `step` on: what an uninterrupted run trains on from there, so that a resumed run trains on the same data.
    """
    build = functools.partial(
        input_pipeline, config.dataset, config.train_split, config.batch_size, training=True, drop_remainder=True,
        take=config.train_examples, repeat=True, **_pipeline_arguments(config, checkpoint),
    )
    first, info = build(start_batch=start_step)
    examples = (info.num_examples or {}).get(config.train_split)
    if not examples:
        raise ValueError(
            f"The size of split {config.train_split!r} of {config.dataset!r} is unknown; pass --train_examples."
        )

    def stream_at(step):
        # The first build checked the split (when the source is checked at all): later ones skip that pass.
        dataset = first if step == start_step else build(start_batch=step, validate=False)[0]
        return dataset.map(_one_hot(info.num_classes)).with_options(_distribution_options())

    return stream_at, info, examples // config.batch_size


def _evaluation_data(config, checkpoint, with_info=False):
    evaluation, info = input_pipeline(config.dataset, config.eval_split, config.batch_size, training=False,
                                      take=config.eval_examples, **_pipeline_arguments(config, checkpoint))
    examples = (info.num_examples or {}).get(config.eval_split)
    if examples:
        # Keras warns "Your input ran out of data" at the end of each pass over data of unknown length.
        evaluation = evaluation.apply(tf.data.experimental.assert_cardinality(math.ceil(examples / config.batch_size)))
    evaluation = evaluation.map(_one_hot(info.num_classes)).with_options(_distribution_options())
    return (evaluation, info) if with_info else evaluation


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


def _build(config, info, strategy, checkpoint):
    with strategy.scope():
        image_size = requested_image_size(config, checkpoint) or (info.image_size[0] if info.image_size else None)
        input_shape = (image_size, image_size, 3) if image_size else None
        model = build_model(config, info.num_classes, input_shape, checkpoint)
        return prepare_backbone(model, config.freeze_backbone) if config.weights is not None else model


def _compile(model, config, schedule, classes):
    sgd, arguments = optimizer_arguments(config)
    optimizer = sgd(
        l2=config.weight_decay, learning_rate=schedule, momentum=config.momentum, nesterov=config.nesterov,
        **arguments,
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


def _backup_to_resume(config):
    """The newest intact backup of an interrupted run in model_dir (None: start from step 0), checked against
    `config`; a damaged newer backup is reported and passed over."""
    backup, damaged = latest_backup(os.path.join(config.model_dir, run_dir.BACKUP_DIR))
    for problem in damaged:
        print(f"warning: {problem}; resuming from the backup before it.", file=sys.stderr)
    if backup is not None:
        run_dir.check_resumable(backup, config, config.model_dir)
    return backup


def _fit(model, stream_at, evaluation, start_step, steps_per_epoch, total_steps, callbacks, verbose):
    """`model.fit` from `start_step` to `total_steps`, one fit epoch per epoch of data, so that each epoch is
    evaluated and logged once, where an uninterrupted run does it. A start within an epoch first finishes that
    epoch in a `fit` of its own."""
    epoch, offset = divmod(start_step, steps_per_epoch)
    segments = [(start_step, epoch, epoch + 1, steps_per_epoch - offset)] if offset else []
    segments.append(((epoch + bool(offset)) * steps_per_epoch, epoch + bool(offset),
                     math.ceil(total_steps / steps_per_epoch), steps_per_epoch))
    for first_step, first_epoch, end_epoch, steps in segments:
        if first_step >= total_steps or model.stop_training:  # done, or stopped by a callback
            return
        model.fit(
            stream_at(first_step),  # endless: an epoch is `steps` batches
            initial_epoch=first_epoch,
            epochs=end_epoch,
            steps_per_epoch=steps,
            validation_data=evaluation,
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles
            verbose=verbose,
        )


def train(config):
    """Trains `config.model` into `config.model_dir` and returns the results (also in its metrics.json).

    The run directory is a transaction log (keras_resnets.training.run_dir): a reader knows that a run has
    finished, and that its model.keras is complete, when `<model_dir>/metrics.json` exists. Started again with
    the same settings, a finished run is left untouched (its results are returned) and an interrupted one
    resumes from its newest backup, on the data an uninterrupted run would see; other settings are refused unless
    `config.overwrite` starts the run over.
    """
    config.validate()
    _prepare_process(config)
    strategy = create_strategy(config.strategy, config.tpu)
    per_replica_batch(config.batch_size, strategy)
    config = dataclasses.replace(config, model_dir=_worker_model_dir(config, strategy))
    run_dir.check_directory(config.model_dir)
    finished = None if config.overwrite else run_dir.finished_results(config.model_dir, config)
    if finished is not None:
        print(f"{config.model_dir} holds this run, finished: nothing to do (--overwrite trains it again).")
        return finished
    backup = None if config.overwrite else _backup_to_resume(config)
    start_step = backup.step if backup else 0
    checkpoint = resolve_checkpoint(config)
    stream_at, info, steps_per_epoch = _training_data(config, start_step, checkpoint)
    evaluation = _evaluation_data(config, checkpoint)
    total_steps = config.train_steps or config.epochs * steps_per_epoch
    model = _build(config, info, strategy, checkpoint)
    with strategy.scope():
        _compile(model, config, _schedule(config, steps_per_epoch, total_steps), info.num_classes)
        if backup is not None:
            restore(backup, model)
    run_dir.begin(config.model_dir, config, backup)  # the first write: a run that failed before left nothing
    if backup is not None and config.verbose:
        print(f"Resuming from the backup in {os.path.dirname(backup.weights_path)} at step {start_step}.")
    guard, throughput = DivergenceGuard(), Throughput(config.batch_size)
    journal = Journal(config.model_dir, steps_per_epoch, config.checkpoint_every_steps, run_dir.settings(config),
                      backup)
    callbacks = [
        StopAtStep(total_steps),
        guard,  # before the journal, which commits nothing after a non-finite loss
        throughput,
        journal,
        keras.callbacks.TensorBoard(os.path.join(config.model_dir, "tensorboard")),
    ]
    _fit(model, stream_at, evaluation, start_step, steps_per_epoch, total_steps, callbacks, config.verbose)
    if guard.diverged_at is not None:
        raise TrainingDivergedError(
            f"The loss became NaN or infinite at step {guard.diverged_at}; the run stopped. Lower --learning_rate, "
            "add warm-up (--warmup_epochs), or use float32 precision."
        )
    test_accuracy = run_dir.test_accuracies(config.model_dir)
    results = {
        "model": config.model,
        "dataset": config.dataset,
        "steps": int(model.optimizer.iterations.numpy()),
        "final_test_accuracy": test_accuracy[-1] if test_accuracy else None,
        "best_test_accuracy": max(test_accuracy) if test_accuracy else None,
        "images_per_second": throughput.images_per_second,
        "wall_time_s": journal.train_seconds(),
        "replicas": strategy.num_replicas_in_sync,
    }
    run_dir.finish(config.model_dir, model, results)
    return results


def evaluate(config, model_path=None):
    """Evaluates a saved model (default: model_dir/model.keras) on the eval split; writes eval.json. With
    `config.weights` and no model.keras in model_dir, evaluates those weights instead (`evaluate_pretrained`)."""
    config.validate()
    _prepare_process(config)
    path = model_path or os.path.join(config.model_dir, "model.keras")
    if config.weights is not None and model_path is None and not os.path.isfile(path):
        return evaluate_pretrained(config)  # no trained model here yet: the weights it starts from
    if not os.path.isfile(path):
        raise ValueError(f"No saved model at {path!r}: train first, or pass the path of a .keras file.")
    strategy = create_strategy(config.strategy, config.tpu)
    evaluation = _evaluation_data(config, resolve_checkpoint(config))
    with strategy.scope():
        model = keras.saving.load_model(path)
    results = model.evaluate(evaluation, verbose=config.verbose, return_dict=True)
    with open(os.path.join(os.path.dirname(path), "eval.json"), "w") as file:
        json.dump(results, file, indent=2)
    return results


def evaluate_pretrained(config):
    """Evaluates the model `config.weights` gives, with its own classifier, on the eval split; writes top-1 and
    top-5 accuracy to model_dir/metrics.json."""
    strategy = create_strategy(config.strategy, config.tpu)
    checkpoint = resolve_checkpoint(config)
    evaluation, info = _evaluation_data(config, checkpoint, with_info=True)
    check_evaluable(config, checkpoint, info.num_classes)
    model = _build(config, info, strategy, checkpoint)
    with strategy.scope():
        _compile(model, config, config.learning_rate, info.num_classes)
    results = model.evaluate(evaluation, verbose=config.verbose, return_dict=True)
    results = {"model": config.model, "weights": config.weights, "dataset": config.dataset,
               "top1": float(results["accuracy"]), "top5": results.get("top5"), "loss": float(results["loss"])}
    os.makedirs(config.model_dir, exist_ok=True)
    with open(os.path.join(config.model_dir, "metrics.json"), "w") as file:
        json.dump(results, file, indent=2)
    return results
