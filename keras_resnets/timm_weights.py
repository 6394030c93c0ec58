"""Loading timm (PyTorch) state dicts into these models, from `.safetensors`, without torch.

Each model family supplies a *mapping*: a function from a primitive Keras layer name (after `flatten`) to
the timm module prefix holding its tensors. The loader converts layouts, checks every shape, and insists
that every tensor of the file is used exactly once.
"""

import numpy as np

from keras_resnets.backend import keras
from keras_resnets.graph import flatten

IGNORED_SUFFIXES = (".num_batches_tracked",)


SHOWN = 5  # problems listed by name per kind; the rest are counted


def corrupt_file(path, kind, error):
    """The ValueError for a weights file that cannot be read as `kind`, with the reader's first line."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ValueError(f"Weights file {str(path)!r} is corrupt or not a valid {kind} file: {reason}")


def read_safetensors(path):
    """{name: numpy array} of a `.safetensors` file, or a ValueError naming the file when it is corrupt."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise corrupt_file(path, ".safetensors", error) from None


def _conv_kernel(tensor):
    return np.transpose(tensor, (2, 3, 1, 0))  # [out, in/groups, kh, kw] -> [kh, kw, in/groups, out]


def _depthwise_kernel(tensor, multiplier):
    out_channels, _, kernel_h, kernel_w = tensor.shape
    grouped = tensor.reshape(out_channels // multiplier, multiplier, kernel_h, kernel_w)
    return np.transpose(grouped, (2, 3, 0, 1))  # -> [kh, kw, in, multiplier]


def _dense_kernel(tensor):
    return tensor.reshape(tensor.shape[0], -1).T  # a 1x1 conv classifier is a dense layer too


def _layer_tensors(layer, prefix):
    """[(keras weight index, timm key, converter)] for one layer, in `layer.get_weights()` order."""
    if isinstance(layer, keras.layers.BatchNormalization):
        pairs = []
        if layer.scale:
            pairs.append("weight")
        if layer.center:
            pairs.append("bias")
        pairs += ["running_mean", "running_var"]
        return [(f"{prefix}.{key}", None) for key in pairs]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        converter = lambda t: _depthwise_kernel(t, layer.depth_multiplier)  # noqa: E731
    elif isinstance(layer, keras.layers.Conv2D):
        converter = _conv_kernel
    elif isinstance(layer, keras.layers.Dense):
        converter = _dense_kernel
    else:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has weights the timm loader cannot map.")
    tensors = [(f"{prefix}.weight", converter)]
    if layer.use_bias:
        tensors.append((f"{prefix}.bias", None))
    return tensors


def _summary(kind, items):
    """'<kind>: a, b, c, d, e and 118 more': a wrong-architecture file has hundreds of each."""
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{kind}: {', '.join(items[:SHOWN])}{more}"


def load_timm_state_dict(model, state_dict, mapping):
    """Copies `state_dict` (name -> numpy array) into `model`, through `mapping(layer_name) -> timm prefix`.

    Raises one ValueError that lists every missing tensor, unused tensor and shape mismatch.
    """
    used, missing, mismatched, assignments = set(), [], [], []
    for layer in flatten(model).layers:
        if not layer.weights:
            continue
        prefix = mapping(layer.name)
        if prefix is None:
            raise ValueError(f"No timm name is known for layer {layer.name!r} of {model.name}.")
        values = []
        for (key, converter), expected in zip(_layer_tensors(layer, prefix), layer.get_weights()):
            if key not in state_dict:
                missing.append(f"{key} (for {layer.name})")
                continue
            used.add(key)
            value = np.asarray(state_dict[key], dtype=np.float32)
            value = converter(value) if converter else value
            if value.shape != expected.shape:
                mismatched.append(f"{key}: file {tuple(value.shape)} vs {layer.name} {tuple(expected.shape)}")
            values.append(value)
        assignments.append((layer, values))
    unused = sorted(key for key in state_dict if key not in used and not key.endswith(IGNORED_SUFFIXES))
    problems = [_summary(kind, items) for kind, items in (("missing from the file", missing),
                                                          ("left over in the file", unused),
                                                          ("shape mismatches", mismatched)) if items]
    if problems:
        raise ValueError(f"The timm weights do not match {model.name}: " + "; ".join(problems) + ".")
    for layer, values in assignments:
        layer.set_weights(values)
    return model
