"""Images per second of the input pipeline alone (no model), to compare with a model's training throughput.

    python apps/benchmark_input.py --source=sample --split=train --batch_size=128 --recipe=cifar --steps=200
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402
from keras_resnets.data import RECIPES  # noqa: E402

SOURCE = flags.DEFINE_string("source", "sample", "sample, synthetic, tfrecord:<dir>, folder:<root> or a tfds name.")
SPLIT = flags.DEFINE_string("split", "train", "Split to read.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Examples per batch.")
RECIPE = flags.DEFINE_enum("recipe", "cifar", RECIPES, "Augmentation recipe.")
STEPS = flags.DEFINE_integer("steps", 200, "Batches to time (the dataset is repeated if shorter).")
DATA_DIR = flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
TRAINING = flags.DEFINE_bool("training", True, "Measure the training pipeline (shuffle + augmentation) or the eval one.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", None, "Output image size (square); default: the recipe's or source's.")
WARM_CACHE = flags.DEFINE_bool("warm_cache", True, "Read one full epoch first so that a cached dataset is timed from memory.")


def main(argv):
    del argv
    import tensorflow as tf

    from keras_resnets.data import input_pipeline, measure_pipeline
    from keras_resnets.checks import check_positive_int

    check_positive_int("steps", STEPS.value)
    dataset, info = input_pipeline(SOURCE.value, SPLIT.value, BATCH_SIZE.value, training=TRAINING.value,
                                   recipe=RECIPE.value, image_size=IMAGE_SIZE.value, data_dir=DATA_DIR.value)
    if WARM_CACHE.value and info.num_examples.get(SPLIT.value) is not None:
        for _ in dataset:
            pass
    rate = measure_pipeline(dataset, STEPS.value)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores")
    print(f"input pipeline {SOURCE.value}/{SPLIT.value} recipe={RECIPE.value} training={TRAINING.value} "
          f"batch={BATCH_SIZE.value}: {rate:.0f} images/s")


if __name__ == "__main__":
    cli.run(main)
