"""Size, latency, accuracy and agreement of each model x quantization mode, on this machine's CPU (XNNPACK).

Latency is the time of one batch-1 `invoke` with ai_edge_litert's Interpreter at 1 and 2 threads (p50 and p90
over `runs` timed invokes after `warmup`, interleaved over all files). Accuracy needs a model trained for the
evaluation set's classes; for other models (ImageNet-shaped, random or foreign weights) only agreement with the
float Keras model is measured, on real images of the evaluation set resized to the model's input.
"""

import os
import platform
import statistics
import time

import numpy as np
import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.checks import check_non_negative_int, check_positive_int, positive_ints
from keras_resnets.data.options import auto_recipe
from keras_resnets.export.calibration import calibration_images, labelled_images
from keras_resnets.export.converter import IO_TYPES, check_mode, convert
from keras_resnets.export.litert import interpreter, predict
from keras_resnets.export.loading import load_model
from keras_resnets.export.report import markdown_table, prepare_output_dir, write_json, write_text
from keras_resnets.export.verify import compare, gpu_compatibility, keras_outputs, op_counts

COLUMNS = [("model", "model", 0), ("mode", "mode", 0), ("size_mb", "size (MB)", 2),
           ("p50_ms_1t", "p50 1 thr (ms)", 1), ("p90_ms_1t", "p90 1 thr (ms)", 1),
           ("p50_ms_2t", "p50 2 thr (ms)", 1), ("p90_ms_2t", "p90 2 thr (ms)", 1),
           ("speedup_1t", "x float32 1 thr", 2), ("speedup_2t", "x float32 2 thr", 2),
           ("accuracy", "top-1 acc", 4), ("float_accuracy", "Keras float acc", 4),
           ("agreement", "top-1 agreement with float", 4), ("max_rel_error", "max err / max |logit|", 4)]


def _timed_runner(content, num_threads):
    """An interpreter with a fixed random input set (int inputs over their whole range)."""
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
    return runner


def _summary(times):
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90)),
            "mean_ms": float(statistics.fmean(times))}


def check_timing(runs, warmup, rounds):
    check_positive_int("runs", runs)
    check_non_negative_int("warmup", warmup)
    check_positive_int("rounds", rounds)


def latencies(contents, threads=(1,), runs=20, warmup=3, rounds=5):
    """{(key, thread count): {"p50_ms", "p90_ms", "mean_ms"}} of batch-1 invokes of each `contents[key]`.

    The `runs` timed invokes of every file are spread over `rounds` rounds that visit every file in turn, so a
    slow spell of a shared machine falls on all files alike and their ratios stay comparable.
    """
    runners = {(key, count): _timed_runner(content, count) for key, content in contents.items() for count in threads}
    for runner in runners.values():
        for _ in range(warmup):
            runner.invoke()
    times = {slot: [] for slot in runners}
    rounds = max(1, min(rounds, runs))
    for round_index in range(rounds):
        count = runs // rounds + (round_index < runs % rounds)
        for slot, runner in runners.items():
            for _ in range(count):
                start = time.perf_counter()
                runner.invoke()
                times[slot].append((time.perf_counter() - start) * 1e3)
    return {slot: _summary(values) for slot, values in times.items()}


def latency(content, num_threads=1, runs=20, warmup=3):
    """{"p50_ms", "p90_ms", "mean_ms"} of single invokes of one file on a fixed random input."""
    return latencies({0: content}, (num_threads,), runs, warmup)[0, num_threads]


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
              warmup=3, rounds=5, io_type=None, log=print):
    """One row per model x mode.

    Every file is converted and evaluated first; then all are timed together in `rounds` interleaved rounds
    (see `latencies`), so that the latency ratios between rows are measured under the same conditions.

    Args:
        entries: model specs as `load_model` takes them (registry name, .keras path, keras.applications.<Name>,
            or a Keras model), each optionally `spec=mode1+mode2` to override `modes`.
        source: dataset source for evaluation and calibration images (e.g. `tfrecord:/data/cifar10`).
        input_size: size to build registry names and keras.applications models at (default: registry size /
            224); each model's evaluation recipe is keras_resnets.data.options.auto_recipe's.
        io_type: for int8 rows (default int8).
    Returns:
        (rows, details): rows for the table; details per row with op counts and GPU compatibility.
    """
    threads = positive_ints("threads", threads)
    check_timing(runs, warmup, rounds)
    check_positive_int("eval_count", eval_count)
    check_positive_int("calibration_count", calibration_count)
    if io_type is not None and io_type not in IO_TYPES:
        raise ValueError(f"Unknown io_type {io_type!r}; allowed: {list(IO_TYPES)}.")
    entries = [parse_entry(entry, modes) if isinstance(entry, str) else (None, entry, {}, tuple(modes))
               for entry in entries]  # every entry checked before the first conversion
    rows, details, contents = [], [], {}
    for name, mode, content, result, gpu, size in _converted(entries, source, eval_split, eval_count,
                                                             calibration_split, calibration_count, input_size,
                                                             io_type, log):
        contents[len(rows)] = content
        rows.append({"model": name, "mode": mode, "input_size": list(size), "size_mb": len(content) / 2**20,
                     "size_bytes": len(content), "agreement": result["top1_agreement"],
                     "max_rel_error": result["max_rel_error"], "mean_rel_error": result["mean_rel_error"],
                     "accuracy": result.get("accuracy"), "float_accuracy": result.get("keras_accuracy"),
                     "eval_images": result["images"]})
        details.append({"model": name, "mode": mode, "op_counts": op_counts(gpu["ops"]),
                        "gpu_compatible": gpu["compatible"], "gpu_incompatible_ops": gpu["incompatible_ops"]})
    log(f"timing {len(contents)} files at {list(threads)} thread(s): {runs} invokes each in {rounds} rounds")
    for (index, count), timing in latencies(contents, threads, runs, warmup, rounds).items():
        rows[index][f"p50_ms_{count}t"], rows[index][f"p90_ms_{count}t"] = timing["p50_ms"], timing["p90_ms"]
    _add_speedups(rows, threads)
    return rows, details


def _converted(entries, source, eval_split, eval_count, calibration_split, calibration_count, input_size,
               io_type, log):
    """Yields (name, mode, .tflite content, comparison with Keras, GPU compatibility, input size) per row of the
    parsed `entries` (label, spec, builder overrides, modes)."""
    cache = {}
    for label, spec, builder_overrides, entry_modes in entries:
        overrides = {} if (not isinstance(spec, str) or spec.endswith(".keras")) else {"classifier_activation": None}
        model = _untrained_model(spec, input_size, {**overrides, **builder_overrides})
        name = label or model.name
        recipe, size = auto_recipe(model.name, model.inputs[0].shape[1]), tuple(model.inputs[0].shape[1:3])
        if (recipe, size) not in cache:
            images, labels, classes = labelled_images(source, eval_split, eval_count, recipe, size)
            calibration = calibration_images(source, calibration_split, calibration_count, recipe, size,
                                             count_name="calibration_count")
            cache[recipe, size] = images, labels, classes, calibration
        images, labels, classes, calibration = cache[recipe, size]
        has_accuracy = int(model.outputs[0].shape[-1]) == classes
        expected = keras_outputs(model, images)
        for mode in entry_modes:
            log(f"{name} {mode}: converting and evaluating")
            content = convert(model, mode, calibration=calibration if mode == "int8" else None,
                              io_type=io_type if mode == "int8" else None)
            result = compare(predict(content, images), expected, labels if has_accuracy else None)
            yield name, mode, content, result, gpu_compatibility(content), size


def _add_speedups(rows, threads):
    """`speedup_<n>t`: the same model's float32 p50 over this row's, where the table has that float32 row."""
    float_rows = {row["model"]: row for row in rows if row["mode"] == "float32"}
    for row in rows:
        reference = float_rows.get(row["model"])
        if reference is not None:
            for count in threads:
                row[f"speedup_{count}t"] = reference[f"p50_ms_{count}t"] / row[f"p50_ms_{count}t"]


CONV_COLUMNS = [("shape", "convolution", 0), ("float32_ms", "float32 p50 (ms)", 3),
                ("float32_gmacs", "float32 GMAC/s", 0), ("int8_ms", "int8 p50 (ms)", 3),
                ("int8_gmacs", "int8 GMAC/s", 0), ("speedup", "int8 speedup", 2)]


def parse_conv_shape(text):
    """`56x64x64x3` -> (size 56, in 64, out 64, kernel 3)."""
    parts = text.lower().split("x")
    if len(parts) != 4 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(f"Convolution shape {text!r} must be SIZExINxOUTxKERNEL with positive integers, "
                         "e.g. 56x64x64x3.")
    return tuple(int(part) for part in parts)


def conv_throughput(shapes, num_threads=1, runs=50, warmup=5, rounds=5):
    """float32 and int8 speed of single stride-1 convolutions, the op that dominates a ResNet's time.

    `shapes`: (size, in_channels, out_channels, kernel) tuples. One row per shape with each mode's p50 and
    GMAC/s and the int8 speedup, timed together (see `latencies`): the speedup of the best-suited single op
    bounds what int8 can gain for a whole network of such convolutions on this CPU.
    """
    (num_threads,) = positive_ints("threads", [num_threads])
    check_timing(runs, warmup, rounds)

    rng = np.random.default_rng(0)
    contents = {}
    for size, in_channels, out_channels, kernel in shapes:
        inputs = keras.Input((size, size, in_channels))
        model = keras.Model(inputs, keras.layers.Conv2D(out_channels, kernel, padding="same")(inputs))
        calibration = rng.standard_normal((8, size, size, in_channels)).astype(np.float32)
        contents[size, in_channels, out_channels, kernel, "float32"] = convert(model, "float32")
        contents[size, in_channels, out_channels, kernel, "int8"] = convert(model, "int8", calibration=calibration)
    timings = latencies(contents, (num_threads,), runs, warmup, rounds)
    rows = []
    for size, in_channels, out_channels, kernel in shapes:
        macs = size * size * in_channels * out_channels * kernel * kernel
        row = {"shape": f"{size}x{size}, {in_channels}->{out_channels}, {kernel}x{kernel}", "macs": macs,
               "threads": num_threads}
        for mode in ("float32", "int8"):
            p50 = timings[(size, in_channels, out_channels, kernel, mode), num_threads]["p50_ms"]
            row[f"{mode}_ms"], row[f"{mode}_gmacs"] = p50, macs / p50 / 1e6
        row["speedup"] = row["float32_ms"] / row["int8_ms"]
        rows.append(row)
    return rows


def machine():
    return {"platform": platform.platform(), "processor": _cpu_model() or platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "tensorflow": tf.__version__}


def _cpu_model():
    """The CPU's model name and its widest vector extensions, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as file:
            fields = dict(line.split(":", 1) for line in file.read().split("\n\n")[0].splitlines() if ":" in line)
    except OSError:
        return None
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    extensions = [name for name in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if name in flags]
    return " ".join([fields.get("model name", ""), f"({', '.join(extensions)})" if extensions else ""]).strip()


def plot(rows, path, threads=1):
    """Accuracy (or, where there is none, top-1 agreement with float) against p50 latency."""
    import matplotlib  # here, not at the top: selecting the Agg backend must not change an importer's plots
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
    prepare_output_dir(output_dir)
    rows, details = benchmark(entries, modes, source=source, **options)
    notes = [f"Evaluation: {rows[0]['eval_images'] if rows else 0} images of {source} "
             f"({options.get('eval_split', 'test')}), resized to each model's input; batch 1; "
             f"{options.get('runs', 20)} timed invokes per file and thread count, in "
             f"{options.get('rounds', 5)} interleaved rounds over all files.",
             "x float32: the same model's float32 p50 over this row's p50."]
    return write_reports(rows, details, output_dir, notes=notes)
