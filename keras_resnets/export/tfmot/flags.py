"""The flags of tflite/qat.py and tflite/prune.py, and what they run.

The data flags are the training app's (keras_resnets.data.options: the same fields, defaults and help), so
`--dataset`, `--recipe`, `--batch_size`, ... mean the same in both and one flagfile can feed both; the
fine-tuning flags are FinetuneOptions' fields, with defaults suited to fine-tuning (a small learning rate).
"""

import os

from absl import flags

from keras_resnets import cli
from keras_resnets.data import options as data_options
from keras_resnets.export.converter import IO_TYPES
from keras_resnets.export.report import prepare_output_dir
from keras_resnets.export.tfmot.launcher import prune_to_tflite, quantization_aware_training
from keras_resnets.export.tfmot.options import FinetuneOptions

HELP = {
    **data_options.HELP,
    "epochs": "Fine-tuning epochs (ignored when --train_steps is set).",
    "train_steps": "Total fine-tuning steps; overrides --epochs.",
    "learning_rate": "Fine-tuning learning rate (decayed by a cosine to 0).",
    "momentum": "SGD momentum.",
    "freeze_batch_norm": "Keep BatchNorm in inference mode while fine-tuning (moving statistics, gamma and beta "
                         "fixed).",
    "calibration_examples": "Training images that calibrate the int8 conversion of float models.",
    "io_type": "Input/output type of the .tflite.",
    "verbose": "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.",
}
ENUMS = {"recipe": data_options.RECIPE_CHOICES, "io_type": IO_TYPES}
TASKS = ("qat", "prune")


def define_flags(task, flag_values=flags.FLAGS):
    """Defines the flags of the `task` ("qat" or "prune") command line."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
    cli.define_record_flags(FinetuneOptions, HELP, __name__, ENUMS, flag_values)
    flags.DEFINE_string("model_path", None, "The .keras model to optimize (a keras_resnets model, e.g. model.keras "
                        "from apps/train.py).", flag_values=flag_values)
    flags.DEFINE_string("model_overrides", "", "JSON object of the builder arguments the model was made with "
                        "(default: the training app's run.json beside --model_path).", flag_values=flag_values)
    flags.DEFINE_string("output", None, "Where the .tflite goes.", flag_values=flag_values)
    flags.DEFINE_string("report", None, "Where the JSON report goes (default: --output with .json).",
                        flag_values=flag_values)
    if task == "qat":
        flags.DEFINE_bool("ptq_baseline", True, "Also convert the float model with post-training int8 quantization "
                          "and report its accuracy.", flag_values=flag_values)
    else:
        flags.DEFINE_float("target_sparsity", 0.5, "Fraction of zeros in every conv and dense kernel.",
                           flag_values=flag_values)
    flags.mark_flags_as_required(["model_path", "output"], flag_values=flag_values)


def options_from_flags(flag_values=flags.FLAGS):
    return cli.record_from_flags(FinetuneOptions, flag_values).validate()


def overrides_from_flags(flag_values=flags.FLAGS):
    """The --model_overrides object, or None (empty) to read the training app's run.json beside the model."""
    return cli.parse_json_object("model_overrides", flag_values["model_overrides"].value) or None


def run(task, flag_values=flags.FLAGS):
    """Runs QAT or pruning from the parsed flags; returns the report (also written to --report)."""
    options = options_from_flags(flag_values)
    output = flag_values["output"].value
    report = flag_values["report"].value or os.path.splitext(output)[0] + ".json"
    prepare_output_dir(os.path.dirname(os.path.abspath(output)), name="the directory of output")
    common = dict(options=options, report_path=report, overrides=overrides_from_flags(flag_values))
    if task == "qat":
        return quantization_aware_training(flag_values["model_path"].value, output,
                                           ptq_baseline=flag_values["ptq_baseline"].value, **common)
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
