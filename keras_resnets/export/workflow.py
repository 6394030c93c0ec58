"""`export_model`: one model to one `.tflite` per mode, each verified on real images, with a JSON/Markdown report."""

import os

from keras_resnets.checks import check_positive_int
from keras_resnets.data.options import auto_recipe
from keras_resnets.export.calibration import calibration_images, labelled_images
from keras_resnets.export.converter import MODES, check_mode, convert, prepare_model, resolve_io_type
from keras_resnets.export.preprocessing import normalization
from keras_resnets.export.report import markdown_table, prepare_output_dir, write_json, write_text
from keras_resnets.export.verify import keras_outputs, verify
from keras_resnets.image_transform import DEFAULT_CROP_PCT, DEFAULT_INTERPOLATION

COLUMNS = [("mode", "mode", 0), ("file", "file", 0), ("size_mb", "size (MB)", 2), ("input", "input", 0),
           ("max_rel_error", "max err / max |out|", 6), ("mean_rel_error", "mean err / max |out|", 6),
           ("top1_agreement", "top-1 agreement", 4), ("accuracy", "top-1 acc", 4),
           ("keras_accuracy", "Keras float acc", 4), ("gpu_compatible", "GPU delegate", 0)]


def mode_io_type(mode, io_type):
    """`io_type` applies to the int8 file; of the float files, only `uint8` (raw pixels in) applies."""
    return io_type if mode == "int8" or io_type == "uint8" else None


def check_modes(modes, io_type, folded):
    if not modes:
        raise ValueError(f"modes must name at least one of {list(MODES)}.")
    for mode in modes:
        check_mode(mode)
        resolve_io_type(mode, mode_io_type(mode, io_type), folded)


def export_model(model_or_name_or_path, modes, output_dir, *, source, io_type=None, calibration_split="train",
                 calibration_count=128, eval_split="test", eval_count=200, input_size=None, preprocessing=None,
                 recipe=None, crop_pct=DEFAULT_CROP_PCT, interpolation=DEFAULT_INTERPOLATION, log=print):
    """Converts the model once per mode into output_dir and verifies each file against Keras.

    Calibration and verification images come from `source` through the package pipeline with `recipe`
    (default: cifar for <= 64 px inputs, else imagenet; `crop_pct` and `interpolation` are its evaluation's, a
    pretrained checkpoint's own); with `preprocessing` folded in, both are raw pixels, and the Keras model they
    are checked against sees them normalized with the same statistics.
    `io_type` is the int8 files' input/output type; `uint8` also makes the float files take uint8 pixels, which
    needs `preprocessing` (as in `convert`). Every argument is checked before the model is loaded.
    Returns the report dict (also written as `<name>_report.json` and `.md`).
    """
    check_modes(modes, io_type, preprocessing is not None)
    check_positive_int("calibration_count", calibration_count)
    check_positive_int("eval_count", eval_count)
    prepare_output_dir(output_dir)
    model = prepare_model(model_or_name_or_path, input_size=input_size)
    recipe = recipe or auto_recipe(model.name, model.inputs[0].shape[1])
    size = tuple(model.inputs[0].shape[1:3])
    raw = preprocessing is not None
    crop = dict(crop_pct=crop_pct, interpolation=interpolation)
    images, labels, classes = labelled_images(source, eval_split, eval_count, recipe, size, **crop,
                                              normalization=normalization(preprocessing) if raw else None)
    raw_images = labelled_images(source, eval_split, eval_count, recipe, size, raw=True, **crop)[0] if raw \
        else images
    labels = labels if int(model.outputs[0].shape[-1]) == classes else None
    expected = keras_outputs(model, images)  # the original model on normalized images
    calibration = None
    if "int8" in modes:
        calibration = calibration_images(source, calibration_split, calibration_count, recipe, size, raw=raw,
                                         count_name="calibration_count", **crop)
    name = os.path.splitext(os.path.basename(model_or_name_or_path))[0] if isinstance(model_or_name_or_path, str) \
        else model.name
    rows = []
    for mode in modes:
        log(f"{name}: converting to {mode}")
        content = convert(model, mode, calibration=calibration if mode == "int8" else None,
                          io_type=mode_io_type(mode, io_type), preprocessing=preprocessing)
        path = os.path.join(output_dir, f"{name}_{mode}.tflite")
        with open(path, "wb") as file:
            file.write(content)
        result = verify(content, model, raw_images, labels, expected=expected)
        io = result["io"]["input"]
        rows.append({"mode": mode, "file": os.path.basename(path), "path": path, "size_mb": len(content) / 2**20,
                     "input": f"{io['dtype']} {io['shape']} scale {io['scale']:.4g} zp {io['zero_point']}",
                     **result})
        log(f"{name} {mode}: {len(content) / 2**20:.2f} MB, agreement {result['top1_agreement']:.4f}, "
            f"max rel error {result['max_rel_error']:.2e}")
    report = {"model": name, "source": source, "recipe": recipe, "input_size": list(size),
              "preprocessing_folded": preprocessing, "eval_crop": crop, "eval_split": eval_split,
              "eval_images": len(images),
              "calibration": {"split": calibration_split, "count": calibration_count} if calibration is not None
              else None, "results": rows}
    write_json(report, os.path.join(output_dir, f"{name}_report.json"))
    text = [f"# {name}: TFLite verification on {len(images)} images of {source} ({eval_split})", "",
            markdown_table(rows, COLUMNS), "",
            "Errors are relative to the largest |output| of the Keras float model on the same images."]
    if labels is None:
        text.append("No accuracy: the model's classes are not the evaluation set's.")
    write_text("\n".join(text), os.path.join(output_dir, f"{name}_report.md"))
    return report
