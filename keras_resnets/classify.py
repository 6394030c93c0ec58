"""Classifying image files: a model (a registered name with pretrained weights, a training run's `.keras`, or a
`.tflite`) with the preprocessing it was trained with, and the top-k classes of each image with names and scores.

    classifier = load_classifier("resnet50", weights="imagenet")
    result = classify(classifier, ["cat.jpg", "photos/"], top=5)
"""

import csv
import dataclasses
import io
import json
import os
from typing import Callable, Optional

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from keras_resnets.backend import keras, to_numpy
from keras_resnets.image_transform import DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION, preprocess_batch, preprocessing
from keras_resnets.labels import IMAGENET_CLASSES, imagenet_classes, top_k
from keras_resnets.models.registry import create_model, model_info
from keras_resnets.pretrained import PretrainedConfig, is_hub_weights, pretrained_config

# TensorFlow, and the package's modules that import it (keras_resnets.data, keras_resnets.export), are imported
# where they are used: under JAX or PyTorch this module, and a registered model's classifier, need none.

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
RUN_FILE = "run.json"  # what the training app writes beside model.keras
PROGRESS_FROM = 20  # images; fewer get no progress bar


@dataclasses.dataclass(frozen=True)
class Classifier:
    """`transform(uint8 image [H, W, 3]) -> model input [h, w, 3]`, `scores(batch) -> probabilities`."""

    transform: Callable
    scores: Callable
    class_names: Optional[tuple]  # by class index; None: classes are shown by index
    description: str


@dataclasses.dataclass
class Classification:
    predictions: list  # [(path, [(class index, class name, score)] best first)]
    failures: list  # [(path, reason)]: files that could not be read as images


def list_images(paths):
    """The image files among `paths` (files, and folders searched recursively), sorted within each folder."""
    if not paths:
        raise ValueError("No images given: pass image files or folders of them.")
    found = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            found += sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names
                            if name.lower().endswith(IMAGE_SUFFIXES))
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise ValueError(f"Image path {path!r} does not exist.")
    if not found:
        raise ValueError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, paths))}.")
    return found


def read_image(path):
    """The RGB pixels of an image file as uint8 [H, W, 3]; a ValueError when the file is not an image."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ValueError(f"cannot be decoded as an image ({str(error).splitlines()[0] or type(error).__name__})") \
            from None


def softmax(scores):
    """Probabilities from logits; rows that are probabilities already are kept."""
    scores = np.asarray(scores, np.float64)
    if np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1, atol=2e-2):
        return scores
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def classify(classifier, paths, top=5, batch_size=32, progress=None):
    """Top-`top` classes of every image under `paths`; unreadable files are listed in `failures`, the rest are
    still classified. `progress` (default: with 20 images or more) shows a progress bar on stderr."""
    files = list_images(paths)
    predictions, failures, batch, batch_paths = [], [], [], []

    def flush():
        if batch:
            probabilities = softmax(classifier.scores(np.stack(batch)))
            for path, row in zip(batch_paths, top_k(probabilities, top)):
                predictions.append((path, [(index, _name(classifier, index), score) for index, score in row]))
            batch.clear()
            batch_paths.clear()

    show = len(files) >= PROGRESS_FROM if progress is None else progress
    for path in tqdm(files, desc="classifying", unit="image", disable=not show):
        try:
            image = read_image(path)
        except ValueError as error:
            failures.append((path, str(error)))
            continue
        batch.append(classifier.transform(image))
        batch_paths.append(path)
        if len(batch) == batch_size:
            flush()
    flush()
    return Classification(predictions, failures)


def _name(classifier, index):
    names = classifier.class_names
    return names[index] if names is not None and index < len(names) else str(index)


def _names_for(classes, labels=None):
    """Class names from a labels file (one per line), ImageNet's for 1,000 classes, else None."""
    if labels is not None:
        try:
            with open(labels, encoding="utf-8") as file:
                names = tuple(line.strip() for line in file if line.strip())
        except OSError as error:
            raise ValueError(f"Cannot read the labels file {labels!r}: {error.strerror or error}.") from None
        if len(names) != classes:
            raise ValueError(f"The labels file {labels!r} names {len(names)} classes; the model has {classes}.")
        return names
    return tuple(name for _, name in imagenet_classes()) if classes == IMAGENET_CLASSES else None


def load_classifier(model, weights=None, labels=None):
    """A `Classifier` for `model`: a registered name (with `weights`: "imagenet", "timm/<model>.<tag>" or a
    timm/Keras weights file), a `.keras` file from the training app (its run.json beside it names the dataset and
    recipe), or a `.tflite` file that takes raw 0..255 pixels (tflite/convert.py folds the normalization in).
    `labels` is an optional text file of class names, one per line."""
    model = os.fspath(model)
    if model.endswith(".tflite"):
        return _tflite_classifier(model, labels)
    if model.endswith(".keras"):
        if weights is not None:
            raise ValueError("--weights applies to a registered model name; a .keras file holds its own weights.")
        return _keras_file_classifier(model, labels)
    return _registry_classifier(model, weights, labels)


def _registry_classifier(name, weights, labels):
    info = model_info(name)
    if weights is None:
        raise ValueError(f"Classifying with {name!r} needs weights: --weights=imagenet, timm/<model>.<tag> or the "
                         f"path of a weights file (a random network's classes mean nothing).")
    if info.dataset != "imagenet":
        raise ValueError(f"{name!r} is a CIFAR network: classify with the .keras file of its training run instead.")
    if is_hub_weights(weights):
        config = weights = pretrained_config(name, weights)  # read once: the model loads from it as it is
    else:
        config = _imagenet_default(name)
    model = create_model(name, weights=weights, classes=config.num_classes, input_shape=(*config.input_size, 3))
    layer = preprocessing(config)
    return Classifier(transform=lambda image: preprocess_batch(layer, image)[0],
                      scores=lambda batch: to_numpy(model(batch, training=False)),
                      class_names=_names_for(config.num_classes, labels),
                      description=f"{name} ({config.repo_id or weights})")


def _imagenet_default(name):
    """timm's default eval transform for a local ImageNet weights file (224, crop 0.875, bilinear)."""
    return PretrainedConfig(repo_id="", architecture=name, num_classes=IMAGENET_CLASSES, input_size=(224, 224),
                            mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), crop_pct=DEFAULT_CROP_PCT,
                            interpolation=DEFAULT_INTERPOLATION, classifier="fc")


def _resized(image, height, width):
    """`image` at the model's input size: resized (bilinear, antialiased as PIL) where it differs."""
    import tensorflow as tf

    if image.shape[:2] == (height, width):
        return image
    return tf.image.resize(image, (height, width), method="bilinear", antialias=True)


def _keras_file_classifier(path, labels):
    import tensorflow as tf

    from keras_resnets.data import augment
    from keras_resnets.data.options import resolve_recipe

    if not os.path.isfile(path):
        raise ValueError(f"Model file {path!r} does not exist.")
    run = _run_config(path)
    try:
        model = keras.saving.load_model(path, compile=False)  # predicting needs no optimizer (nor its classes)
    except Exception as error:  # Keras raises several types for a damaged archive
        raise ValueError(f"Cannot load the model file {path!r}: {str(error).splitlines()[0]}") from None
    _, height, width, _ = model.inputs[0].shape
    recipe = resolve_recipe(run.get("recipe", "auto"), run["model"])
    mean, std = augment.normalization_for(recipe, run.get("dataset"))
    normalize = augment.make_transform(recipe, training=False, image_size=(height, width), mean=mean, std=std)

    def transform(image):
        if recipe == "cifar":  # the imagenet recipe resizes and crops itself
            image = _resized(image, height, width)
        return np.asarray(normalize(tf.convert_to_tensor(image)))

    classes = int(model.outputs[0].shape[-1])
    return Classifier(transform=transform, scores=lambda batch: to_numpy(model(batch, training=False)),
                      class_names=_names_for(classes, labels) or _dataset_names(run, classes),
                      description=f"{path} ({run['model']} trained on {run.get('dataset')})")


def _run_config(path):
    run_file = os.path.join(os.path.dirname(os.path.abspath(path)), RUN_FILE)
    try:
        with open(run_file) as file:
            return json.load(file)["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{path!r} needs the {RUN_FILE} of its training run beside it (it names the dataset and "
                         f"the preprocessing); pass the model.keras of a run directory of apps/train.py.") from None


def _dataset_names(run, classes):
    """The class names of the dataset a run trained on, when that dataset is readable here."""
    from keras_resnets.data.sources import load_split

    try:
        _, info = load_split(run["dataset"], run.get("eval_split", "test"), data_dir=run.get("data_dir"))
    except ValueError:
        return None
    names = info.class_names
    return tuple(names) if names and len(names) == classes else None


def _tflite_classifier(path, labels):
    from keras_resnets.export.litert import io_details, predict

    try:
        with open(path, "rb") as file:
            content = file.read()
        details = io_details(content)
    except (OSError, ValueError, RuntimeError) as error:
        raise ValueError(f"Cannot read the TFLite model {path!r}: {str(error).splitlines()[0]}") from None
    _, height, width, _ = details["input"]["shape"]

    def transform(image):
        return np.asarray(_resized(image, height, width), np.float32)  # raw pixels: the file normalizes them

    classes = details["output"]["shape"][-1]
    return Classifier(transform=transform, scores=lambda batch: predict(content, batch),
                      class_names=_names_for(classes, labels), description=f"{path} (LiteRT)")


def write_predictions(classification, path):
    """Writes the predictions (and the failures) to a `.csv` (one row per image and rank) or `.json` file."""
    if path.endswith(".json"):
        content = json.dumps({
            "predictions": [{"path": image, "top": [{"class_id": index, "class_name": name, "score": score}
                                                    for index, name, score in top]}
                             for image, top in classification.predictions],
            "failures": [{"path": image, "error": reason} for image, reason in classification.failures],
        }, indent=2)
    elif path.endswith(".csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["path", "rank", "class_id", "class_name", "score"])
        for image, top in classification.predictions:
            for rank, (index, name, score) in enumerate(top, start=1):
                writer.writerow([image, rank, index, name, f"{score:.6f}"])
        content = buffer.getvalue()
    else:
        raise ValueError(f"--output must end in .csv or .json; got {path!r}.")
    try:
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write(content)
    except OSError as error:
        raise ValueError(f"Cannot write {path!r}: {error.strerror or error}.") from None
