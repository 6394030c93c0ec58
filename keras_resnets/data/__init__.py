"""Datasets and input pipelines: the shipped CIFAR-10 sample, synthetic data, TFRecords, image folders and tfds.

    from keras_resnets.data import input_pipeline
    train, info = input_pipeline("sample", "train", 128, training=True, recipe="cifar", seed=0)
"""

from keras_resnets.data.augment import NORMALIZATION, RECIPES
from keras_resnets.data.info import DatasetInfo
from keras_resnets.data.options import DataOptions, auto_recipe
from keras_resnets.data.pipeline import input_pipeline
from keras_resnets.data.sources import SAMPLE_DIR, SOURCES, load_split
from keras_resnets.data.throughput import measure_pipeline
from keras_resnets.data.validation import DataError

__all__ = ["DataError", "DataOptions", "DatasetInfo", "NORMALIZATION", "RECIPES", "SAMPLE_DIR", "SOURCES", "auto_recipe",
           "input_pipeline", "load_split", "measure_pipeline"]
