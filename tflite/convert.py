"""Converts a model to one `.tflite` per quantization mode (built-in ops only) and verifies each on real images.

    python tflite/convert.py --model=resnet20 --modes=float32,int8 --io_type=uint8 --preprocessing=cifar10 \
        --source=tfrecord:/path/to/cifar10 --output_dir=/tmp/tflite
    python tflite/convert.py --model=runs/cifar10_resnet20/model.keras --modes=int8 --source=sample
    python tflite/convert.py --model=resnet50 --weights=imagenet --modes=int8 --io_type=uint8 \
        --source=folder:/path/to/images --output_dir=/tmp/tflite

Writes <name>_<mode>.tflite and <name>_report.json / .md (size, error against Keras, top-1 agreement and
accuracy, input quantization, GPU-delegate compatibility of the ops) to --output_dir. An ImageNet model also gets
<name>_labels.txt, the 1,000 class names for tflite/mediapipe/add_metadata.py --labels.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402
from keras_resnets.data import RECIPES  # noqa: E402
from keras_resnets.export.converter import IO_TYPES, MODES  # noqa: E402
from keras_resnets.export.workflow import export_model  # noqa: E402
from keras_resnets.labels import IMAGENET_CLASSES, write_imagenet_labels  # noqa: E402
from keras_resnets.pretrained import is_hub_weights, pretrained_config, pretrained_model  # noqa: E402

flags.DEFINE_string("model", None, "Registry name, .keras file or keras.applications.<Name>.", required=True)
flags.DEFINE_string("weights", None, "For a registry name: imagenet, timm/<model>.<tag> or a weights file "
                    "(default: random weights).")
flags.DEFINE_list("modes", ["float32", "int8"], f"Any of {', '.join(MODES)}.")
flags.DEFINE_enum("io_type", None, IO_TYPES,
                  "Input/output type of the int8 file (default int8); uint8 also gives the float files uint8 "
                  "input, which needs --preprocessing.")
flags.DEFINE_string("source", "sample", "Dataset source for calibration and verification images "
                    "(sample, tfrecord:<dir>, folder:<root>, a tfds name).")
flags.DEFINE_string("calibration_split", "train", "Split the int8 calibration images come from.")
flags.DEFINE_integer("calibration_count", 128, "Number of calibration images.")
flags.DEFINE_string("eval_split", "test", "Split the verification images come from.")
flags.DEFINE_integer("eval_count", 200, "Number of verification images.")
flags.DEFINE_integer("input_size", None, "Input size for registry names (default: the registry's).")
flags.DEFINE_string("preprocessing", None, "Fold normalization in so the model takes raw 0..255 pixels: "
                    "cifar10, cifar100 or imagenet statistics (default with hub --weights: the checkpoint's).")
flags.DEFINE_enum("recipe", None, RECIPES, "Eval preprocessing (default: the model's, "
                  "keras_resnets.data.auto_recipe).")
flags.DEFINE_string("output_dir", "tflite_models", "Where the .tflite files and the report go.")

FLAGS = flags.FLAGS


def main(argv):
    model, preprocessing, weights, crop = FLAGS.model, FLAGS.preprocessing, FLAGS.weights, {}
    if is_hub_weights(weights):  # its config.json, read once: the model loads from it
        weights = pretrained_config(FLAGS.model, weights)
        if preprocessing is None:  # the checkpoint's own mean/std
            preprocessing = weights.pixel_normalization
        crop = weights.eval_crop  # its eval images
    if weights is not None:  # a registry name (create_model names the allowed ones otherwise)
        model = pretrained_model(FLAGS.model, weights, FLAGS.input_size)
    report = export_model(model, FLAGS.modes, FLAGS.output_dir, source=FLAGS.source, io_type=FLAGS.io_type,
                          calibration_split=FLAGS.calibration_split, calibration_count=FLAGS.calibration_count,
                          eval_split=FLAGS.eval_split, eval_count=FLAGS.eval_count, input_size=FLAGS.input_size,
                          preprocessing=preprocessing, recipe=FLAGS.recipe, **crop)
    print(f"wrote {len(report['results'])} model(s) and {report['model']}_report.json/.md to {FLAGS.output_dir}")
    if FLAGS.weights is not None and int(model.outputs[0].shape[-1]) == IMAGENET_CLASSES:
        labels = write_imagenet_labels(os.path.join(FLAGS.output_dir, f"{report['model']}_labels.txt"))
        print(f"wrote {labels}: the class names for tflite/mediapipe/add_metadata.py --labels")
    return 0


if __name__ == "__main__":
    cli.run(main)
