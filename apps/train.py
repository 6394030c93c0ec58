"""Trains (or evaluates) a keras_resnets model.

    python apps/train.py --flagfile=apps/configs/quickstart.cfg
    python apps/train.py --flagfile=apps/configs/cifar10_resnet20.cfg --dataset=tfrecord:/path/to/cifar10

Every flag can be given on the command line after --flagfile to override it; `--helpfull` lists them.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app  # noqa: E402

from keras_resnets.training.flags import config_from_flags, define_flags  # noqa: E402

define_flags()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from keras_resnets.training import evaluate, train

    try:
        config = config_from_flags()
        results = evaluate(config) if config.eval_only else train(config)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for key, value in results.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    app.run(main)
