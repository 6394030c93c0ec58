"""Forward throughput of keras_resnets' ResNet-50 (keras.applications layout) against keras.applications.ResNet50.

    python apps/benchmark_forward.py --batch_sizes=1,32
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402

FLAGS = flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes to measure.")
ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved timing rounds per model (the median is reported).")
ITERATIONS = flags.DEFINE_integer("iterations", 10, "Forward passes per round.")


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    import keras_resnets
    from keras_resnets.benchmark import compare_throughput
    from keras_resnets.checks import check_positive_int, positive_ints

    batch_sizes = positive_ints("batch_sizes", FLAGS.value)
    check_positive_int("rounds", ROUNDS.value)
    check_positive_int("iterations", ITERATIONS.value)

    models = {
        "keras_resnets resnet50 (stride on 1x1)": keras_resnets.create_model("resnet50", stride_in="1x1"),
        "keras.applications.ResNet50": keras.applications.ResNet50(weights=None),
    }
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores")
    print("| batch | " + " | ".join(models) + " | ours / reference |")
    print("|---|" + "---|" * (len(models) + 1))
    for batch in batch_sizes:
        rates = compare_throughput(models, batch, (224, 224, 3), ROUNDS.value, ITERATIONS.value)
        ours, reference = rates.values()
        print(f"| {batch} | " + " | ".join(f"{rate:.1f} img/s" for rate in rates.values()) + f" | {ours / reference:.3f} |")


if __name__ == "__main__":
    cli.run(main)
