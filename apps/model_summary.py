"""Builds a registered model and prints its summary, parameters (timm convention) and MACs.

    python apps/model_summary.py --model=resnet50
    python apps/model_summary.py --table          # every registered model, as a Markdown table
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402

MODEL = flags.DEFINE_string("model", "resnet50", "A registered model name (see --table).")
TABLE = flags.DEFINE_bool("table", False, "Print every registered model with its parameters and MACs instead.")


def main(argv):
    del argv
    from keras_resnets.summary import describe_model, registry_table

    print(registry_table() if TABLE.value else describe_model(MODEL.value))


if __name__ == "__main__":
    cli.run(main)
