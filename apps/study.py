"""Runs one of the studies of why residual networks train, and writes results.json and its figures.

    python apps/study.py --study=gradient_flow --output_dir=out/gradient_flow
    python apps/study.py --study=shattered_gradients --output_dir=out/shattered --repetitions=20
    python apps/study.py --study=lesion --output_dir=out/lesion --runs_dir=runs/studies --resnet=resnet20 --plain=plain20

`--helpshort` lists every study's settings with each study's default.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli, studies  # noqa: E402
from keras_resnets.studies import flags as study_flags  # noqa: E402
from keras_resnets.studies.flags import define_flags, settings_from_flags  # noqa: E402

define_flags()
flags.adopt_module_key_flags(study_flags)  # --helpshort lists the studies' settings
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.study or not FLAGS.output_dir:
        raise studies.StudyError(f"--study and --output_dir are required; the studies are: {', '.join(sorted(studies.STUDIES))}.")
    print(studies.run(FLAGS.study, FLAGS.output_dir, **settings_from_flags(FLAGS.study)))
    return 0


if __name__ == "__main__":
    cli.run(main)
