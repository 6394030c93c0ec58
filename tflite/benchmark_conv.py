"""int8 against float32 speed of single convolutions on this CPU (LiteRT, XNNPACK, batch 1).

    python tflite/benchmark_conv.py --threads=1

A stride-1 convolution is the op int8 speeds up most; its speedup here bounds the int8 speedup of a whole
ResNet. Writes conv_benchmark.md and conv_benchmark.json.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402

flags.DEFINE_list("shapes", ["56x64x64x3", "28x128x128x3", "14x256x256x3", "7x512x512x3", "56x256x64x1",
                             "14x1024x256x1"], "Convolutions as SIZExINxOUTxKERNEL (ResNet-50's, by default).")
flags.DEFINE_integer("threads", 1, "Interpreter threads.")
flags.DEFINE_integer("runs", 50, "Timed invokes per file.")
flags.DEFINE_integer("rounds", 5, "Rounds over all files that the timed invokes are spread over.")
flags.DEFINE_integer("warmup", 5, "Untimed invokes first.")
flags.DEFINE_string("output_dir", "tflite_benchmark", "Where conv_benchmark.md/.json go.")

FLAGS = flags.FLAGS


def main(argv):
    from keras_resnets.export.benchmark import CONV_COLUMNS, conv_throughput, machine, parse_conv_shape
    from keras_resnets.export.report import markdown_table, prepare_output_dir, write_json, write_text

    shapes = [parse_conv_shape(text) for text in FLAGS.shapes]
    prepare_output_dir(FLAGS.output_dir)
    rows = conv_throughput(shapes, FLAGS.threads, FLAGS.runs, FLAGS.warmup, FLAGS.rounds)
    info = machine()
    text = "\n".join([f"# int8 vs float32 convolution speed ({info['processor']}, {info['cpu_count']} CPUs, "
                      f"TensorFlow {info['tensorflow']}, LiteRT XNNPACK, {FLAGS.threads} thread(s))", "",
                      markdown_table(rows, CONV_COLUMNS), ""])
    print(text)
    print("wrote", write_text(text, os.path.join(FLAGS.output_dir, "conv_benchmark.md")),
          write_json({"machine": info, "rows": rows}, os.path.join(FLAGS.output_dir, "conv_benchmark.json")))
    return 0


if __name__ == "__main__":
    cli.run(main)
