"""Weights that cross between Keras 3 and tf_keras: an `.npz` keyed by primitive layer name.

`save_flat_weights(model, path)` flattens a keras_resnets model and writes every weight of every primitive
layer as ``"<layer name>/<weight index>"`` (layer names are globally unique, DESIGN.md principle 1), plus a
``__keras_resnets__`` entry: the JSON of how to rebuild the model (registry name, builder overrides, input shape,
classes). Another process, with either Keras, rebuilds the same flat graph with `build_flat_twin(spec)` and fills
it with `load_flat_weights(model, path)`.
"""

import json
import os
import re
import zipfile

import numpy as np

from keras_resnets.backend import keras
from keras_resnets.graph import flatten
from keras_resnets.layers.base import CompositeLayer
from keras_resnets.models.registry import create_model, list_models

SPEC_KEY = "__keras_resnets__"
FORMAT_VERSION = 1


class NotAKerasResnetsModelError(ValueError):
    """The file or model is not one that keras_resnets' registry can rebuild."""


def _json_safe(value):
    if isinstance(value, tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _normalized_config(model):
    """The model's config as JSON, without the ids Keras gives shared objects (they differ from run to run)."""
    text = json.dumps(model.get_config(), sort_keys=True, default=str)
    return re.sub(r'"shared_object_id": \d+(, )?', "", text)


def _registry_name_check(name, source):
    if name not in list_models():
        raise NotAKerasResnetsModelError(
            f"{source} is not a keras_resnets model: its model name {name!r} is not a registered model name "
            "(keras_resnets.list_models()). QAT, pruning and the tf_keras twin need a model made by "
            "keras_resnets.create_model or the training app (apps/train.py)."
        )


def model_spec(model, overrides=None, source=None):
    """How to rebuild `model` with `create_model`: {"model", "overrides", "input_shape", "classes"}.

    The registry name is the model's name (create_model and the training app name models so). `overrides` are
    the builder arguments it was made with beyond classes, input_shape and classifier_activation (which are read
    from the model). The rebuilt configuration must equal the model's, or this raises ValueError.
    """
    source = source or f"model {model.name!r}"
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise NotAKerasResnetsModelError(f"{source} is not a keras_resnets model: not a functional Keras model.")
    _registry_name_check(model.name, source)
    derived = {"input_shape": list(model.inputs[0].shape[1:])}
    head = next((layer for layer in model.layers if layer.name == "predictions"), None)
    if head is not None:
        activation = head.get_config().get("activation")
        derived["classes"] = int(head.units)
        derived["classifier_activation"] = None if activation in (None, "linear") else activation
    else:
        derived["include_top"] = False
    spec_overrides = _json_safe({**derived, **(overrides or {})})
    try:
        rebuilt = create_model(model.name, **spec_overrides)
    except (ValueError, TypeError) as error:
        raise NotAKerasResnetsModelError(
            f"{source} cannot be rebuilt as keras_resnets model {model.name!r} with {spec_overrides}: {error}"
        ) from error
    if _normalized_config(rebuilt) != _normalized_config(model):
        raise NotAKerasResnetsModelError(
            f"{source} is named {model.name!r} but its layers differ from create_model({model.name!r}, "
            f"**{spec_overrides}): pass the builder overrides it was created with (the training app's "
            "--model_overrides; its run.json beside model.keras is read automatically), or it is not a "
            "keras_resnets model."
        )
    return {
        "format": FORMAT_VERSION,
        "model": model.name,
        "overrides": spec_overrides,
        "input_shape": spec_overrides["input_shape"],
        "classes": spec_overrides.get("classes"),
    }


def _run_json_overrides(path):
    """The training app writes run.json (with --model_overrides) beside model.keras."""
    run_file = os.path.join(os.path.dirname(os.path.abspath(path)), "run.json")
    if not os.path.isfile(run_file):
        return None
    try:
        with open(run_file) as file:
            run = json.load(file)
    except (OSError, json.JSONDecodeError):
        return None
    return run if isinstance(run, dict) else None


def read_keras_config(path):
    """The model config inside a `.keras` file (its config.json), without loading any weights."""
    if not os.path.isfile(path):
        raise ValueError(f"No model file at {path!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise NotAKerasResnetsModelError(
            f"{path!r} is not a keras_resnets model: not a Keras 3 .keras archive with a config.json ({error})."
        ) from error


def load_keras_model(path, overrides=None):
    """Loads a `.keras` file of a keras_resnets model and returns (model, spec); ValueError when it is not one."""
    config = read_keras_config(path)
    name = (config.get("config") or {}).get("name") if isinstance(config, dict) else None
    if config.get("class_name") != "Functional" or not isinstance(name, str):
        raise NotAKerasResnetsModelError(
            f"{path!r} is not a keras_resnets model: it holds a {config.get('class_name')!r}, not a functional model "
            "made by keras_resnets.create_model or the training app."
        )
    _registry_name_check(name, repr(path))
    if overrides is None:
        run = _run_json_overrides(path)
        if run and run.get("model") == name and isinstance(run.get("model_overrides"), dict):
            overrides = run["model_overrides"]
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises TypeError/ValueError/KeyError for foreign or broken files
        raise NotAKerasResnetsModelError(f"{path!r} could not be loaded as a keras_resnets model: {error}") from error
    return model, model_spec(model, overrides, source=repr(path))


def as_flat(model):
    """`model` itself when it holds only primitive layers, else `flatten(model)` (sharing the weights)."""
    nested = any(isinstance(layer, (CompositeLayer, keras.Model)) for layer in model.layers)
    return flatten(model) if nested else model


def flat_weights(model):
    """{"<primitive layer name>/<index>": array} of `flatten(model)` (or of `model` if it is flat already)."""
    flat = as_flat(model)
    arrays = {}
    for layer in flat.layers:
        for index, weight in enumerate(layer.weights):
            arrays[f"{layer.name}/{index}"] = np.asarray(weight.numpy())
    return arrays


def save_flat_weights(model, path, spec=None, overrides=None):
    """Writes `model`'s weights as a neutral `.npz` keyed by primitive layer name, with its rebuild spec.

    `spec` (from `model_spec` or `load_keras_model`) is computed from the model when not given.
    """
    spec = spec or model_spec(model, overrides)
    arrays = flat_weights(model)
    arrays[SPEC_KEY] = np.array(json.dumps(spec))
    with open(path, "wb") as file:  # np.savez would append ".npz" to a path without it
        np.savez(file, **arrays)
    return path


def read_flat_weights(path):
    """(arrays by key, spec) from a file written by `save_flat_weights`."""
    if not os.path.isfile(path):
        raise ValueError(f"No weights file at {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path!r} is not a weights .npz written by save_flat_weights: {error}") from error
    if SPEC_KEY not in arrays:
        raise ValueError(f"{path!r} has no {SPEC_KEY!r} entry: it was not written by save_flat_weights.")
    spec = json.loads(str(arrays.pop(SPEC_KEY)))
    return arrays, spec


def build_flat_twin(spec):
    """The flat model of `spec` in this process's Keras (tf_keras when TF_USE_LEGACY_KERAS=1)."""
    overrides = dict(spec["overrides"])
    overrides["input_shape"] = tuple(overrides["input_shape"])
    return flatten(create_model(spec["model"], **overrides))


def load_flat_weights(model, path):
    """Fills `model` (a keras_resnets model or its flat twin, either Keras) from a `save_flat_weights` file.

    Every weight must match by key and shape; otherwise one ValueError lists the missing, extra and
    mismatched entries. Returns the spec stored in the file.
    """
    arrays, spec = read_flat_weights(path)
    flat = as_flat(model)
    targets = {}
    for layer in flat.layers:
        for index, weight in enumerate(layer.weights):
            targets[f"{layer.name}/{index}"] = weight
    missing = sorted(set(targets) - set(arrays))
    extra = sorted(set(arrays) - set(targets))
    mismatched = sorted(
        f"{key}: file {tuple(arrays[key].shape)} vs model {tuple(targets[key].shape)}"
        for key in set(targets) & set(arrays)
        if tuple(arrays[key].shape) != tuple(targets[key].shape)
    )
    if missing or extra or mismatched:
        def listing(items):
            return ", ".join(items[:10]) + (f", ... ({len(items)} in all)" if len(items) > 10 else "") or "none"

        raise ValueError(
            f"The weights in {path!r} (model {spec.get('model')!r}) do not fit {model.name!r}: "
            f"missing from the file: {listing(missing)}; extra in the file: {listing(extra)}; "
            f"shape mismatches: {listing(mismatched)}."
        )
    for key, weight in targets.items():
        weight.assign(arrays[key])
    return spec


def save_model_weights(model, path, overrides=None):
    """`save_flat_weights` for a keras_resnets model or the path of its `.keras` file; returns the spec.

    Raises ValueError (NotAKerasResnetsModelError) when it is not a keras_resnets model.
    """
    if isinstance(model, (str, os.PathLike)):
        model, spec = load_keras_model(os.fspath(model), overrides)
    else:
        spec = model_spec(model, overrides)
    save_flat_weights(model, path, spec=spec)
    return spec
