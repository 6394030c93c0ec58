"""Size, latency (p50/p90 at 1 and 2 threads), accuracy and agreement with float for each model x quantization.

    python tflite/benchmark.py --source=tfrecord:/path/to/cifar10 --input_size=224 \
        --models=resnet50=int8+float32,keras.applications.ResNet50=int8,rexnet_100=int8,keras.applications.MobileNetV2=int8

A model is a registry name, a .keras file or keras.applications.<Name> (weights=None), optionally with
=mode1+mode2 to override --modes. Writes benchmark.md, benchmark.json and benchmark.png (accuracy vs latency).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402
from keras_resnets.export.benchmark import run_benchmark  # noqa: E402
from keras_resnets.export.converter import IO_TYPES, MODES  # noqa: E402

flags.DEFINE_list("models", ["resnet20"], "Models, each optionally name=mode1+mode2.")
flags.DEFINE_list("modes", ["float32", "int8"], f"Default modes: {', '.join(MODES)}.")
flags.DEFINE_string("source", "sample", "Dataset source for evaluation and calibration images.")
flags.DEFINE_string("eval_split", "test", "Evaluation split.")
flags.DEFINE_integer("eval_count", 200, "Evaluation images (resized for ImageNet-size models).")
flags.DEFINE_string("calibration_split", "train", "Calibration split.")
flags.DEFINE_integer("calibration_count", 64, "Calibration images for int8.")
flags.DEFINE_integer("input_size", None, "Input size for registry names and keras.applications (default: 32/224).")
flags.DEFINE_list("threads", ["1", "2"], "Thread counts to time.")
flags.DEFINE_integer("runs", 20, "Timed invokes per file and thread count.")
flags.DEFINE_integer("rounds", 5, "Rounds over all files that the timed invokes are spread over.")
flags.DEFINE_integer("warmup", 3, "Untimed invokes first.")
flags.DEFINE_enum("io_type", None, IO_TYPES, "int8 rows' input/output type (default int8).")
flags.DEFINE_string("output_dir", "tflite_benchmark", "Where benchmark.md/.json/.png go.")

FLAGS = flags.FLAGS


def main(argv):
    paths = run_benchmark(FLAGS.models, FLAGS.modes, FLAGS.output_dir, source=FLAGS.source,
                          eval_split=FLAGS.eval_split, eval_count=FLAGS.eval_count,
                          calibration_split=FLAGS.calibration_split, calibration_count=FLAGS.calibration_count,
                          input_size=FLAGS.input_size, threads=FLAGS.threads, runs=FLAGS.runs, rounds=FLAGS.rounds,
                          warmup=FLAGS.warmup, io_type=FLAGS.io_type)
    with open(paths["markdown"]) as file:
        print(file.read())
    print("wrote", ", ".join(paths.values()))
    return 0


if __name__ == "__main__":
    cli.run(main)
