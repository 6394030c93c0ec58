"""The arguments the residual family rests on, as experiments: one module per study, one `run` each.

    from keras_resnets import studies
    summary = studies.run("gradient_flow", "out/gradient_flow", depths=(20, 56), seed=0)

Each study module defines `Options` (a dataclass: the study's settings and their defaults), `run(options,
output_dir)` that writes results.json and PNG figures to `output_dir` and returns a printable summary.
`apps/study.py` is the command line over all of them.
"""

import importlib
import time

from keras_resnets.backend import require_tensorflow
from keras_resnets.studies.common import StudyError, prepare_output_dir, write_results

# study name -> module under keras_resnets.studies (imported only when that study runs)
STUDIES = {
    "gradient_flow": "gradient_flow",
    "shattered_gradients": "shattered_gradients",
    "rank": "rank",
    "degradation": "degradation",
    "placement": "placement",
    "lesion": "lesion",
    "paths": "paths",
}

# studies that differentiate with tf.GradientTape / tf.custom_gradient; the others need only the models
TENSORFLOW_ONLY = ("gradient_flow", "shattered_gradients", "paths")


def study_module(name):
    if name not in STUDIES:
        raise StudyError(f"Unknown study {name!r}; the studies are: {', '.join(sorted(STUDIES))}.")
    return importlib.import_module(f"keras_resnets.studies.{STUDIES[name]}")


def options_for(name, **settings):
    """The study's validated Options from keyword settings (unknown names are an error naming the known ones)."""
    options_type = study_module(name).Options
    known = set(options_type.__dataclass_fields__)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise StudyError(f"Study {name!r} has no setting {', '.join(unknown)}; its settings are: {', '.join(sorted(known))}.")
    options = options_type(**settings)
    options.validate()
    return options


def run(name, output_dir, **settings):
    """Runs study `name` with `settings` (its Options fields), writes results.json and figures to `output_dir`,
    and returns the summary text."""
    if name in TENSORFLOW_ONLY:
        require_tensorflow(f"The {name} study (it differentiates with tf.GradientTape)")
    module = study_module(name)
    options = options_for(name, **settings)
    prepare_output_dir(output_dir)
    start = time.perf_counter()
    results, summary = module.run(options, output_dir)
    write_results(output_dir, name, options, results, seconds=time.perf_counter() - start)
    return summary


__all__ = ["STUDIES", "TENSORFLOW_ONLY", "StudyError", "options_for", "run", "study_module"]
