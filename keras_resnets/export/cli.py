"""The flags of tflite/qat.py and tflite/prune.py, and what they run.

The data and optimizer flags are the training app's own definitions (keras_resnets.training.flags), so
`--dataset`, `--batch_size`, `--epochs`, ... mean the same in both and one flagfile can feed both; only the
defaults suited to fine-tuning differ (a small learning rate).
"""

import dataclasses
import json
import os

from absl import flags

from keras_resnets.export.finetune import FinetuneOptions
from keras_resnets.export.converter import IO_TYPES
from keras_resnets.export.report import prepare_output_dir

SHARED_TRAINING_FLAGS = (
    "model_overrides", "dataset", "data_dir", "recipe", "image_size", "train_split", "eval_split",
    "train_examples", "eval_examples", "batch_size", "epochs", "train_steps", "learning_rate", "momentum", "seed",
    "verbose",
)
FINETUNE_DEFAULTS = {"learning_rate": 1e-3, "verbose": 2}


def define_flags(task, flag_values=flags.FLAGS):
    """Defines the flags of the `task` ("qat" or "prune") command line."""
    from keras_resnets.training.flags import define_flags as define_training_flags

    training = flags.FlagValues()
    define_training_flags(training)
    for name in SHARED_TRAINING_FLAGS:
        flag_values[name] = training[name]
    for name, value in FINETUNE_DEFAULTS.items():
        flag_values.set_default(name, value)
    flags.DEFINE_string("model_path", None, "The .keras model to optimize (a keras_resnets model, e.g. model.keras "
                        "from apps/train.py).", flag_values=flag_values)
    flags.DEFINE_string("output", None, "Where the .tflite goes.", flag_values=flag_values)
    flags.DEFINE_string("report", None, "Where the JSON report goes (default: --output with .json).",
                        flag_values=flag_values)
    flags.DEFINE_integer("calibration_examples", FinetuneOptions.calibration_examples,
                         "Training images that calibrate the int8 conversion of float models.", flag_values=flag_values)
    flags.DEFINE_enum("io_type", FinetuneOptions.io_type, sorted(IO_TYPES), "Input/output type of the .tflite.",
                      flag_values=flag_values)
    flags.DEFINE_bool("freeze_batch_norm", FinetuneOptions.freeze_batch_norm, "Keep BatchNorm in inference mode "
                      "while fine-tuning (moving statistics, gamma and beta fixed).", flag_values=flag_values)
    if task == "qat":
        flags.DEFINE_bool("ptq_baseline", True, "Also convert the float model with post-training int8 quantization "
                          "and report its accuracy.", flag_values=flag_values)
    elif task == "prune":
        flags.DEFINE_float("target_sparsity", 0.5, "Fraction of zeros in every conv and dense kernel.",
                           flag_values=flag_values)
    else:
        raise ValueError(f"task must be 'qat' or 'prune', got {task!r}.")
    flags.mark_flags_as_required(["model_path", "output"], flag_values=flag_values)


def options_from_flags(flag_values=flags.FLAGS):
    names = {field.name for field in dataclasses.fields(FinetuneOptions)}
    values = {name: flag_values[name].value for name in names if name in flag_values}
    return FinetuneOptions(**values).validate()


def overrides_from_flags(flag_values=flags.FLAGS):
    text = flag_values["model_overrides"].value
    if text in (None, "", "{}"):
        return None  # read the training app's run.json beside the model, if there is one
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--model_overrides must be a JSON object, got {text!r}: {error}") from error
    if not isinstance(overrides, dict):
        raise ValueError(f"--model_overrides must be a JSON object, got {text!r}.")
    return overrides


def run(task, flag_values=flags.FLAGS):
    """Runs QAT or pruning from the parsed flags; returns the report (also written to --report)."""
    options = options_from_flags(flag_values)
    output = flag_values["output"].value
    report = flag_values["report"].value or os.path.splitext(output)[0] + ".json"
    prepare_output_dir(os.path.dirname(os.path.abspath(output)), name="the directory of output")
    common = dict(options=options, report_path=report, overrides=overrides_from_flags(flag_values))
    if task == "qat":
        from keras_resnets.export.qat import quantization_aware_training

        return quantization_aware_training(flag_values["model_path"].value, output,
                                           ptq_baseline=flag_values["ptq_baseline"].value, **common)
    from keras_resnets.export.prune import prune_to_tflite

    return prune_to_tflite(flag_values["model_path"].value, output,
                           target_sparsity=flag_values["target_sparsity"].value, **common)


def summary(task, report):
    """The report's headline numbers, one per line."""
    lines = [f"model: {report['model']}", f"float_accuracy: {report['float_accuracy']:.4f}"]
    if task == "qat":
        if "ptq" in report:
            lines.append(f"ptq_int8_accuracy: {report['ptq']['int8_accuracy']:.4f}")
        result = report["qat"]
        lines.append(f"qat_int8_accuracy: {result['int8_accuracy']:.4f}")
    else:
        lines.append(f"unpruned_int8_accuracy: {report['unpruned']['int8_accuracy']:.4f}")
        result = report["pruned"]
        lines.append(f"pruned_int8_accuracy: {result['int8_accuracy']:.4f}")
        lines.append(f"tflite_kernel_sparsity: {result['tflite_sparsity']:.4f}")
        lines.append(f"unpruned_bytes: {report['unpruned']['bytes']} (gzip {report['unpruned']['gzip_bytes']})")
    lines.append(f"tflite: {result['path']} {result['bytes']} bytes (gzip {result['gzip_bytes']})")
    return "\n".join(lines)


def main(task):
    """The main of tflite/qat.py and tflite/prune.py, for keras_resnets.cli.run (which reports bad input)."""

    def run_main(argv):
        del argv
        print(summary(task, run(task)))
        return 0

    return run_main
