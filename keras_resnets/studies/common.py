"""What every study shares: its options record, the error it raises, a progress bar and its results.json."""

import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import sys

from keras_resnets.backend import keras
from keras_resnets.training.durable import write_atomically


class StudyError(ValueError):
    """Bad input to a study (a flag, a run directory, a model): the CLI prints it and exits 2."""


def prepare_output_dir(output_dir):
    """Creates `output_dir` (and parents) and checks it can be written, before any work starts."""
    try:
        os.makedirs(output_dir, exist_ok=True)
        probe = os.path.join(output_dir, ".write_test")
        with open(probe, "w") as file:
            file.write("")
        os.remove(probe)
    except OSError as error:
        raise StudyError(f"output_dir {output_dir!r} cannot be written: {error.strerror or error}.") from None
    return output_dir


def installed_version(package):
    """`package`'s installed version, or None where it is not installed (TensorFlow beside JAX or PyTorch)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine():
    """Where the numbers were measured: CPU model, core count, OS, Python and library versions."""
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from keras_resnets import __version__

    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "keras_resnets": __version__,
        "keras": keras.__version__,
        "tensorflow": installed_version("tensorflow"),  # read without importing it (JAX, PyTorch)
        "numpy": numpy.__version__,
        "keras_backend": keras.backend.backend(),
    }


def write_results(output_dir, study, options, results, seconds=None):
    """Writes results.json: every number behind the figures, the options (seed included) and the machine."""
    record = {
        "study": study,
        "options": dataclasses.asdict(options) if dataclasses.is_dataclass(options) else dict(options),
        "results": results,
        "machine": machine(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": seconds,
    }
    path = os.path.join(output_dir, "results.json")
    write_atomically(path, json.dumps(record, indent=1, default=_jsonable))
    return path


def _jsonable(value):
    """numpy scalars and arrays in results."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def progress(total, label):
    """A Keras progress bar of `total` steps (call .add(1) per step); silent when total is 0."""
    print(label, flush=True)
    return keras.utils.Progbar(total, unit_name="step")
