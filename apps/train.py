"""Trains (or evaluates) a keras_resnets model.

    python apps/train.py --flagfile=apps/configs/quickstart.cfg
    python apps/train.py --flagfile=apps/configs/cifar10_resnet20.cfg --dataset=tfrecord:/path/to/cifar10

Every flag can be given on the command line after --flagfile to override it. Started again with the same flags,
a finished run is left as it is and an interrupted one resumes; --overwrite starts over.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402
from keras_resnets.training import TrainingDivergedError, evaluate, train  # noqa: E402
from keras_resnets.training import flags as training_flags  # noqa: E402

training_flags.define_flags()
flags.adopt_module_key_flags(training_flags)  # --help lists the training flags, not absl's own


def main(argv):
    del argv
    config = training_flags.config_from_flags()
    results = evaluate(config) if config.eval_only else train(config)
    for key, value in results.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    cli.run(main, user_errors=(TrainingDivergedError,))
