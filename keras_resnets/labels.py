"""Class names for predictions: ImageNet-1k's, shipped with the package (timm's synset list, in class-index
order, with WordNet lemmas), and the top-k of any classifier's scores."""

import functools
import importlib.resources

import numpy as np

IMAGENET_CLASSES = 1000


@functools.cache
def imagenet_classes():
    """[(WordNet synset id, class name)] of the 1,000 ImageNet-1k classes in class-index order; the name is the
    synset's first lemma ("golden retriever")."""
    text = importlib.resources.files("keras_resnets").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    classes = []
    for line in text.splitlines():
        synset, lemmas = line.split("\t", 1)
        classes.append((synset, lemmas.split(",")[0].strip()))
    return tuple(classes)


def top_k(scores, k):
    """[[(class index, score)] best first] for each row of `scores` [batch, classes]."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [batch, classes]; got shape {scores.shape}.")
    k = min(int(k), scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[(int(index), float(row[index])) for index in indices] for row, indices in zip(scores, order)]


def decode_predictions(probabilities, top=5):
    """[[(synset id, class name, score)] best first] for each row of ImageNet-1k `probabilities` [batch, 1000],
    as keras.applications' `decode_predictions` returns them (no download: the names ship with the package)."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != IMAGENET_CLASSES:
        raise ValueError(f"decode_predictions expects ImageNet-1k scores of shape [batch, {IMAGENET_CLASSES}]; "
                         f"got shape {probabilities.shape}.")
    classes = imagenet_classes()
    return [[(*classes[index], score) for index, score in row] for row in top_k(probabilities, top)]


def write_imagenet_labels(path):
    """Writes the 1,000 ImageNet class names, one per line in class-index order (the labels file MediaPipe's
    metadata writer, tflite/mediapipe/add_metadata.py, takes)."""
    with open(path, "w", encoding="utf-8") as file:
        file.write("".join(f"{name}\n" for _, name in imagenet_classes()))
    return path
