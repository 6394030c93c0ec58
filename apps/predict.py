"""Classifies image files (or folders of them): the top-k classes of each, with names and scores.

    python apps/predict.py --model=resnet50 --weights=imagenet --images=cat.jpg,photos/
    python apps/predict.py --model=runs/cifar10_resnet20/model.keras --images=shots/ --output=predictions.csv
    python apps/predict.py --model=resnet20_int8.tflite --labels=labels.txt --images=shots/ --output=top5.json

Files that cannot be decoded as images are listed after the others are classified (exit status 2).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402

MODEL = flags.DEFINE_string("model", None, "A registered model name (with --weights), a .keras file from "
                                           "apps/train.py, or a .tflite file that takes raw pixels.", required=True)
WEIGHTS = flags.DEFINE_string("weights", None, "For a registered name: imagenet, timm/<model>.<tag> or the path of "
                                               "a weights file.")
IMAGES = flags.DEFINE_list("images", None, "Image files and folders (searched recursively), comma-separated.",
                           required=True)
TOP = flags.DEFINE_integer("top", 5, "Classes shown per image.", lower_bound=1)
LABELS = flags.DEFINE_string("labels", None, "A text file of class names, one per line (default: ImageNet's for "
                                             "1,000 classes, else the training run's dataset's).")
OUTPUT = flags.DEFINE_string("output", None, "Also write the predictions to this .csv or .json file.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Images per model call.", lower_bound=1)


def main(argv):
    del argv
    from keras_resnets.classify import classify, load_classifier, write_predictions

    if OUTPUT.value and not OUTPUT.value.endswith((".csv", ".json")):
        raise ValueError(f"--output must end in .csv or .json; got {OUTPUT.value!r}.")
    classifier = load_classifier(MODEL.value, WEIGHTS.value, LABELS.value)
    result = classify(classifier, IMAGES.value, top=TOP.value, batch_size=BATCH_SIZE.value)
    for path, top in result.predictions:
        print(f"{path}: " + ", ".join(f"{name} ({score:.3f})" for _, name, score in top))
    if OUTPUT.value:
        write_predictions(result, OUTPUT.value)
    if result.failures:
        listed = "; ".join(f"{path}: {reason}" for path, reason in result.failures)
        raise ValueError(f"{len(result.failures)} of {len(result.failures) + len(result.predictions)} files could "
                         f"not be classified (the others were): {listed}")
    return 0


if __name__ == "__main__":
    cli.run(main)
