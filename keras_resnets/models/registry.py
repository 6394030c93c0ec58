"""Every named variant, with what the papers and timm say about it: `create_model`, `list_models`, `model_info`."""

import dataclasses
import difflib
import fnmatch
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Callable
    kwargs: dict
    family: str
    paper: str
    dataset: str  # "imagenet" or "cifar": which reference the parameter count follows
    input_size: int
    reference_params: Optional[int] = None  # exact count, timm convention (ImageNet) or the paper's net (CIFAR)
    paper_macs: Optional[float] = None  # multiply-accumulates the paper reports

    @property
    def default_input_shape(self):
        return (self.input_size, self.input_size, 3)


_REGISTRY = {}


def register_model(name, builder, kwargs, *, family, paper, dataset, params=None, macs=None):
    if name in _REGISTRY:
        raise ValueError(f"Model {name!r} is registered twice.")
    input_size = 224 if dataset == "imagenet" else 32
    _REGISTRY[name] = ModelInfo(name, builder, dict(kwargs), family, paper, dataset, input_size, params, macs)


def _lookup(name):
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(match) for match in close)}?" if close else ""
        raise ValueError(f"Unknown model {name!r}.{hint} keras_resnets.list_models() lists all {len(_REGISTRY)}.")
    return _REGISTRY[name]


def model_info(name):
    """The registry entry of `name`: builder arguments, paper, reference parameters and MACs, input size."""
    return _lookup(name)


def list_models(pattern="*"):
    """Sorted names of the registered models matching a shell-style `pattern`."""
    return sorted(name for name in _REGISTRY if fnmatch.fnmatchcase(name, pattern))


def create_model(name, **overrides):
    """Builds a registered model; keyword arguments override its configuration (e.g. `classes=10`)."""
    info = _lookup(name)
    kwargs = {**info.kwargs, "name": name, **overrides}
    return info.builder(**kwargs)
