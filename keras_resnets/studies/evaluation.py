"""The test images a trained-network study measures on, and a model's error on them."""

import numpy as np

from keras_resnets.backend import to_numpy
from keras_resnets.studies import runs
from keras_resnets.studies.common import StudyError

BATCH = 250


def test_images(run_dir, count, dataset=""):
    """(images, labels) as numpy arrays: the first `count` test images of `dataset` (default: the dataset the run
    in `run_dir` was trained on), preprocessed as that run's evaluation was."""
    from keras_resnets.data import input_pipeline
    from keras_resnets.data.options import resolve_recipe

    settings = runs.run_settings(run_dir)
    source = dataset or settings.get("dataset")
    if not source:
        raise StudyError(f"The run in {run_dir!r} does not record its dataset; pass --dataset.")
    recipe = resolve_recipe(settings.get("recipe", "auto"), settings.get("model", "resnet20"))
    split = settings.get("eval_split") or "test"
    try:
        data, _ = input_pipeline(source, split, BATCH, training=False, recipe=recipe, take=count,
                                 data_dir=settings.get("data_dir"), image_size=settings.get("image_size"))
    except ValueError as error:
        raise StudyError(f"The test images of {source!r} cannot be read: {error}") from None
    batches = list(data.as_numpy_iterator())
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches]).astype("int64")
    return images, labels


def error_rate(model, images, labels):
    """Top-1 test error (%) of `model` (inference mode) on the arrays."""
    wrong = 0
    for start in range(0, len(images), BATCH):
        outputs = to_numpy(model(images[start:start + BATCH], training=False))
        wrong += int(np.sum(outputs.argmax(axis=-1) != labels[start:start + BATCH]))
    return 100.0 * wrong / len(images)
