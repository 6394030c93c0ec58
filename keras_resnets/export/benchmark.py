"""Size, latency, accuracy and agreement of each model x quantization mode, on this machine's CPU (XNNPACK).

Latency is the time of one batch-1 `invoke` with ai_edge_litert's Interpreter at 1 and 2 threads (p50 and p90
over `runs` timed invokes after `warmup`). Accuracy needs a model trained for the evaluation set's classes; for
other models (ImageNet-shaped, random or foreign weights) only agreement with the float Keras model is measured,
on real images of the evaluation set resized to the model's input.
"""

import platform
import statistics
import time

import numpy as np

from keras_resnets.export.calibration import calibration_images
from keras_resnets.export.converter import check_mode, convert
from keras_resnets.export.datasets import labelled_images, recipe_for
from keras_resnets.export.loading import load_model
from keras_resnets.export.report import markdown_table, write_json, write_text
from keras_resnets.export.tflite import interpreter
from keras_resnets.export.verify import compare, gpu_compatibility, keras_outputs, op_counts, predict

COLUMNS = [("model", "model", 0), ("mode", "mode", 0), ("size_mb", "size (MB)", 2),
           ("p50_ms_1t", "p50 1 thr (ms)", 1), ("p90_ms_1t", "p90 1 thr (ms)", 1),
           ("p50_ms_2t", "p50 2 thr (ms)", 1), ("p90_ms_2t", "p90 2 thr (ms)", 1),
           ("accuracy", "top-1 acc", 4), ("float_accuracy", "Keras float acc", 4),
           ("agreement", "top-1 agreement with float", 4), ("max_rel_error", "max err / max |logit|", 4)]


def latency(content, num_threads=1, runs=20, warmup=3):
    """{"p50_ms", "p90_ms", "mean_ms"} of single invokes on a fixed random input."""
    runner = interpreter(content, num_threads)
    detail = runner.get_input_details()[0]
    dtype = np.dtype(detail["dtype"])
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        data = rng.standard_normal(detail["shape"]).astype(np.float32)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, detail["shape"], endpoint=True).astype(dtype)
    runner.set_tensor(detail["index"], data)
    for _ in range(warmup):
        runner.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.invoke()
        times.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90)),
            "mean_ms": float(statistics.fmean(times))}


def parse_entry(entry, default_modes):
    """`name[:key=value...][=mode1+mode2]` -> (label, name, builder overrides, modes).

    `resnet50:stride_in=1x1=int8` builds resnet50 with `stride_in="1x1"` and converts it to int8.
    """
    spec, separator, modes = entry.rpartition("=")
    if not separator or ":" in modes or "=" not in spec and ":" in spec:
        spec, modes = entry, ""  # no mode list: the last "=" belongs to an override
    name, *pairs = spec.split(":")
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = _literal(value)
    modes = tuple(modes.split("+")) if modes else tuple(default_modes)
    for mode in modes:
        check_mode(mode)
    return spec, name, overrides, modes


def _literal(text):
    for convert_value in (int, float):
        try:
            return convert_value(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _untrained_model(spec, input_size, overrides):
    """Builds `spec` for timing. Logits: an int8 softmax over 1000 untrained classes is all zeros. And no
    zero-initialized last BatchNorm where the builder has one: an exactly-zero residual branch gets a degenerate
    int8 scale, XNNPACK then refuses its ADD and splits the graph, which no trained network does."""
    if overrides:
        try:
            return load_model(spec, input_size, zero_init_last=False, **overrides)
        except TypeError:  # builders without residual branches to zero (ReXNet, keras.applications)
            pass
    return load_model(spec, input_size, **overrides)


def benchmark(entries, modes=("float32", "int8"), *, source, eval_split="test", eval_count=200,
              calibration_split="train", calibration_count=64, input_size=None, threads=(1, 2), runs=20,
              warmup=3, io_type=None, log=print):
    """One row per model x mode.

    Args:
        entries: model specs as `load_model` takes them (registry name, .keras path, keras.applications.<Name>,
            or a Keras model), each optionally `spec=mode1+mode2` to override `modes`.
        source: dataset source for evaluation and calibration images (e.g. `tfrecord:/data/cifar10`).
        input_size: size to build registry names and keras.applications models at (default: registry size /
            224); ImageNet-size models get the `imagenet` eval recipe (resize + center crop), small ones `cifar`.
        io_type: for int8 rows (default int8).
    Returns:
        (rows, details): rows for the table; details per row with op counts and GPU compatibility.
    """
    rows, details, cache = [], [], {}
    for entry in entries:
        label, spec, builder_overrides, entry_modes = (
            parse_entry(entry, modes) if isinstance(entry, str) else (None, entry, {}, tuple(modes))
        )
        overrides = {} if (not isinstance(spec, str) or spec.endswith(".keras")) else {"classifier_activation": None}
        model = _untrained_model(spec, input_size, {**overrides, **builder_overrides})
        name = label or model.name
        recipe, size = recipe_for(model), tuple(model.inputs[0].shape[1:3])
        if (recipe, size) not in cache:
            images, labels, classes = labelled_images(source, eval_split, eval_count, recipe, size)
            calibration = calibration_images(source, calibration_split, calibration_count, recipe, size)
            cache[recipe, size] = images, labels, classes, calibration
        images, labels, classes, calibration = cache[recipe, size]
        has_accuracy = int(model.outputs[0].shape[-1]) == classes
        expected = keras_outputs(model, images)
        for mode in entry_modes:
            log(f"{name} {mode}: converting")
            content = convert(model, mode, calibration=calibration if mode == "int8" else None,
                              io_type=io_type if mode == "int8" else None)
            row = {"model": name, "mode": mode, "input_size": list(size), "size_mb": len(content) / 2**20,
                   "size_bytes": len(content)}
            for count in threads:
                timing = latency(content, count, runs, warmup)
                row[f"p50_ms_{count}t"], row[f"p90_ms_{count}t"] = timing["p50_ms"], timing["p90_ms"]
            log(f"{name} {mode}: p50 {row.get('p50_ms_1t', float('nan')):.1f} ms at 1 thread; evaluating")
            result = compare(predict(content, images), expected, labels if has_accuracy else None)
            row.update(agreement=result["top1_agreement"], max_rel_error=result["max_rel_error"],
                       mean_rel_error=result["mean_rel_error"], accuracy=result.get("accuracy"),
                       float_accuracy=result.get("keras_accuracy"), eval_images=result["images"])
            gpu = gpu_compatibility(content)
            rows.append(row)
            details.append({"model": name, "mode": mode, "op_counts": op_counts(gpu["ops"]),
                            "gpu_compatible": gpu["compatible"], "gpu_incompatible_ops": gpu["incompatible_ops"]})
    return rows, details


def machine():
    import os

    import tensorflow as tf

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "tensorflow": tf.__version__}


def plot(rows, path, threads=1):
    """Accuracy (or, where there is none, top-1 agreement with float) against p50 latency."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        latency_ms = row.get(f"p50_ms_{threads}t")
        measured = row.get("accuracy") is not None
        value = row["accuracy"] if measured else row.get("agreement")
        if latency_ms is None or value is None:
            continue
        axes.scatter(latency_ms, value, marker="o" if measured else "^")
        axes.annotate(f"{row['model']} {row['mode']}", (latency_ms, value), fontsize=7, xytext=(3, 3),
                      textcoords="offset points")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel(f"p50 latency, batch 1, {threads} thread(s) (ms, log scale)")
    axes.set_ylabel("top-1 accuracy (o) / agreement with float (^)")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_reports(rows, details, output_dir, stem="benchmark", notes=()):
    """Writes `<stem>.md`, `<stem>.json` and `<stem>.png` to output_dir; returns their paths."""
    import os

    os.makedirs(output_dir, exist_ok=True)
    info = machine()
    text = "\n".join([f"# TFLite benchmark ({info['processor']}, {info['cpu_count']} CPUs, "
                      f"TensorFlow {info['tensorflow']}, LiteRT XNNPACK)", "", markdown_table(rows, COLUMNS), "",
                      *[f"- {note}" for note in notes],
                      "- n/a accuracy: the model's classes are not the evaluation set's (no ImageNet here); the "
                      "agreement column compares with the float Keras model on the same real images.", ""])
    paths = {"markdown": write_text(text, os.path.join(output_dir, f"{stem}.md")),
             "json": write_json({"machine": info, "rows": rows, "details": details, "notes": list(notes)},
                                os.path.join(output_dir, f"{stem}.json")),
             "plot": plot(rows, os.path.join(output_dir, f"{stem}.png"))}
    return paths


def run_benchmark(entries, modes, output_dir, *, source, **options):
    """`benchmark` then `write_reports`; returns the paths of the Markdown, JSON and PNG files."""
    rows, details = benchmark(entries, modes, source=source, **options)
    notes = [f"Evaluation: {rows[0]['eval_images'] if rows else 0} images of {source} "
             f"({options.get('eval_split', 'test')}), resized to each model's input; batch 1; "
             f"{options.get('runs', 20)} timed invokes per thread count."]
    return write_reports(rows, details, output_dir, notes=notes)
