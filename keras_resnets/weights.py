"""Loading weights files into a built model: Keras formats, or timm `.safetensors` through a family mapping.

Loads are all or nothing: a file is checked against the model (its format, for `.keras` the architecture, the
shape of every variable) before any variable is assigned, and a load that still fails half-way restores the
model's own values.
"""

import contextlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from keras_resnets.timm_weights import corrupt_file, load_timm_state_dict, read_safetensors

KERAS_SUFFIXES = (".weights.h5", ".keras", ".h5")
TIMM_SUFFIX = ".safetensors"
ALLOWED = ", ".join(KERAS_SUFFIXES + (TIMM_SUFFIX,))
SHOWN = 5  # differences listed by name; the rest are counted
# Layer arguments that do not change what a variable means: names, dtypes, training-only rates, initializers.
NEUTRAL_KEYS = {"name", "trainable", "dtype", "drop_path_rate", "dropout_rate", "rate", "seed", "zero_init_last",
                "momentum", "batch_shape", "sparse", "ragged", "optional"}
NEUTRAL_SUFFIXES = ("_initializer", "_regularizer", "_constraint")


def load_weights(model, path, timm_mapping=None):
    """Loads `path` into `model`, or raises one ValueError saying why the file does not fit (the model unchanged)."""
    path = _existing_file(path)
    if path.endswith(TIMM_SUFFIX):
        if timm_mapping is None:
            raise ValueError(f"{model.name} has no timm weight mapping; cannot load {path!r}.")
        return load_timm_state_dict(model, read_safetensors(path), timm_mapping)
    if not path.endswith(KERAS_SUFFIXES):
        raise ValueError(f"Unsupported weights file {path!r}; allowed endings: {ALLOWED}.")
    if path.endswith(".keras"):
        config, layout = _read_keras_archive(path)
        _check_architecture(model, config, path)
        _check_layout(model, layout, path)
    elif path.endswith(".weights.h5"):
        _check_layout(model, _h5_file_layout(path), path)
    else:
        _h5_file_layout(path)  # a legacy .h5: its layout is Keras 2's, checked by Keras itself
    with _restored_on_failure(model):
        try:
            model.load_weights(path)
        except Exception as error:  # Keras raises several types; the user needs one message
            raise ValueError(f"Weights file {path!r} does not match the architecture of {model.name}: "
                             f"{error}") from error
    return model


def _existing_file(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"weights {path!r} is a directory; pass the path of a weights file ({ALLOWED}).")
    if not os.path.isfile(path):
        raise ValueError(f"weights must be None or the path of an existing weights file; {path!r} does not exist.")
    return path


def _h5_file_layout(path):
    try:
        return _h5_layout(path)
    except OSError as error:  # h5py's "file signature not found", "truncated file", ...
        raise corrupt_file(path, "HDF5 weights", error) from None


def _h5_layout(source):
    """{dataset path: shape} of every variable in an HDF5 weights file (a path or a file object), read in full so
    that a truncated file fails here rather than half-way through a load."""
    import h5py

    layout = {}

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            layout[name] = np.asarray(item).shape

    with h5py.File(source, "r") as file:
        file.visititems(read)
    return layout


def _read_keras_archive(path):
    """(model config, weights layout) of a `.keras` file, or a ValueError saying that it is corrupt."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
        return config, _h5_layout(io.BytesIO(weights))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise corrupt_file(path, ".keras (a zip of config.json and model.weights.h5)", error) from None


def _expected_layout(model):
    """The layout Keras itself writes for `model`: the file layout names variables by layer order and type."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "expected.weights.h5")
        model.save_weights(path)
        return _h5_layout(path)


def _listing(items):
    shown = "; ".join(items[:SHOWN])
    return shown + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _differences(model_items, file_items, describe, label=str):
    """What differs between {name: item} of the model and of the file: changed items, then names on one side."""
    differences = [f"{label(name)}: {describe(file_items[name], item)}" for name, item in model_items.items()
                   if name in file_items and file_items[name] != item]
    differences += [f"{label(name)} only in the model" for name in model_items if name not in file_items]
    differences += [f"{label(name)} only in the file" for name in file_items if name not in model_items]
    return differences


def _check_layout(model, layout, path):
    expected = _expected_layout(model)
    # A saved training run also holds its optimizer's variables, which a load into a model leaves alone.
    parts = {name.split("/")[0] for name in expected}
    layout = {name: shape for name, shape in layout.items() if name.split("/")[0] in parts}
    differences = _differences(expected, layout, lambda file, ours: f"file {file} vs model {ours}")
    if differences:
        raise ValueError(f"Weights file {path!r} does not match the architecture of {model.name} "
                         f"({len(differences)} variable(s) differ): {_listing(differences)}.")


def _architecture(layer_config, output_layers):
    """The parts of a layer's config that decide what its variables mean (the classifier's activation does not)."""
    config = layer_config.get("config", {})
    neutral = NEUTRAL_KEYS | ({"activation"} if layer_config.get("name") in output_layers else set())
    kept = {key: value for key, value in config.items()
            if key not in neutral and not key.endswith(NEUTRAL_SUFFIXES)}
    return layer_config.get("class_name"), kept


def _output_names(output_layers):
    """Layer names in a functional config's `output_layers`: [name, 0, 0], a list of those, or a dict of them."""
    entries = list(output_layers.values() if isinstance(output_layers, dict) else output_layers)
    if entries and isinstance(entries[0], str):
        entries = [entries]
    return {entry[0] for entry in entries}


def _layers(functional_config):
    outputs = _output_names(functional_config.get("output_layers", []))
    return {layer["config"].get("name"): _architecture(layer, outputs) for layer in functional_config["layers"]}


def _check_architecture(model, file_config, path):
    """Refuses a `.keras` file whose layers differ from the model's in anything but names, dtypes, training-only
    rates and initializers (resnet20 weights fit plain20 variable for variable, yet compute another function)."""
    if "layers" not in file_config.get("config", {}):
        return  # not a functional model: only the variables can be compared
    differences = _differences(_layers(model.get_config()), _layers(file_config["config"]), _difference,
                               label=lambda name: f"layer {name!r}")
    if differences:
        raise ValueError(f"Weights file {path!r} holds another architecture than {model.name} "
                         f"({len(differences)} layer(s) differ): {_listing(differences)}.")


def _difference(file_layer, model_layer):
    (file_class, file_config), (model_class, model_config) = file_layer, model_layer
    if file_class != model_class:
        return f"{file_class} in the file, {model_class} in the model"
    keys = sorted(key for key in set(file_config) | set(model_config) if file_config.get(key) != model_config.get(key))
    return ", ".join(f"{key} {file_config.get(key)!r} in the file, {model_config.get(key)!r} in the model"
                     for key in keys)


@contextlib.contextmanager
def _restored_on_failure(model):
    """Puts every variable back as it was if the body raises: a failed load never leaves a half-loaded model."""
    saved = [variable.numpy() for variable in model.weights]
    try:
        yield
    except Exception:
        for variable, value in zip(model.weights, saved):
            variable.assign(value)
        raise
