"""Which evaluation recipe and size a model's images need, and labelled real images for checks."""

import numpy as np

from keras_resnets.data import input_pipeline

RAW = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # mean 0, std 1: the pipeline's normalization becomes the identity


def recipe_for(model):
    """`cifar` for models taking <= 64 px images (CIFAR-style), else `imagenet` (resize 256 + center crop)."""
    height = model.inputs[0].shape[1] or 224
    return "cifar" if height <= 64 else "imagenet"


def labelled_images(source, split, count, recipe, image_size, *, raw=False, data_dir=None):
    """(images (N, H, W, 3) float32, labels (N,) int64, number of classes or None), first `count` of the split."""
    dataset, info = input_pipeline(source, split, min(count, 256), training=False, recipe=recipe,
                                   image_size=image_size, take=count, data_dir=data_dir,
                                   normalization=RAW if raw else None, cache=False)
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(images), np.concatenate(labels), info.num_classes
