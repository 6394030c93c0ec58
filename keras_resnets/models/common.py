"""The keras.applications contract shared by every builder: inputs, head, pooling, features and weights.

Builders take these arguments as keywords, once: `application_builder` collects them into an `ApplicationArgs`
(validated there), and `extends` lets a family builder forward them to the generic one without restating them.
Both give the builder the full signature, so `help()` and override checks see every argument it accepts.
"""

import dataclasses
import functools
import inspect
from typing import Any, Optional

from keras_resnets.backend import keras
from keras_resnets.checks import check_choice, check_rate
from keras_resnets.pretrained import checkpoint_id, is_hub_weights, load_pretrained
from keras_resnets.weights import load_weights

POOLING_MODES = (None, "avg", "max")


@dataclasses.dataclass(frozen=True)
class ApplicationArgs:
    """The keras.applications arguments every builder takes as keywords.

    include_top: end with global average pooling and a `classes`-way Dense layer (`predictions`).
    weights: None (random initialization), a Keras weights file, a timm `.safetensors` state dict, "imagenet"
        (timm's default ImageNet-1k checkpoint of the registered model `name`, from the Hugging Face hub) or
        "timm/<model>.<tag>" (a given hub checkpoint) or the `PretrainedConfig` of one (read already, as
        `keras_resnets.pretrained_config` returns it); see `keras_resnets.pretrained`.
    input_tensor: a Keras tensor to build the model on, instead of a new `keras.Input`.
    input_shape: (height, width, channels); None gives the registry's size with `include_top`, else (None, None, 3).
    pooling: without the top, None (the last feature map), "avg" or "max" (global pooling).
    classes: outputs of the classifier (with `include_top`).
    classifier_activation: activation of the classifier; None returns logits.
    head_dropout_rate: dropout before the classifier, in [0, 1).
    features_only: return a backbone whose outputs are a dict of stride-tagged features (`STEM_S2`, `STAGE1_S4`
        ...), instead of the head.
    name: the model's name.
    """

    include_top: bool = True
    weights: Any = None
    input_tensor: Any = None
    input_shape: Optional[tuple] = None
    pooling: Optional[str] = None
    classes: int = 1000
    classifier_activation: Any = "softmax"
    head_dropout_rate: float = 0.0
    features_only: bool = False
    name: str = "model"

    def __post_init__(self):
        if self.include_top and not self.features_only and (not isinstance(self.classes, int) or self.classes < 1):
            raise ValueError(
                f"classes must be an integer >= 1 when include_top=True, got {self.classes!r} for {self.name}."
            )
        check_choice("pooling", self.pooling, POOLING_MODES)
        check_rate("head_dropout_rate", self.head_dropout_rate)
        if is_hub_weights(self.weights):
            checkpoint_id(self.weights, self.name)  # a name without published weights fails before building

    def inputs(self, default_size, min_size):
        """(input tensor of the graph, source inputs of the model), with `input_shape` validated."""
        return model_inputs(self.input_tensor, self.input_shape, default_size, min_size, self.include_top, self.name)

    def head(self, x):
        """The classifier (`include_top`) or the global pooling on the last feature map `x`."""
        if self.include_top:
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
            if self.head_dropout_rate:
                x = keras.layers.Dropout(self.head_dropout_rate, name="head_dropout")(x)
            # float32 so that mixed-precision training keeps a float32 softmax / logits.
            return keras.layers.Dense(
                self.classes, activation=self.classifier_activation, dtype="float32", name="predictions"
            )(x)
        if self.pooling == "avg":
            return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if self.pooling == "max":
            return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
        return x

    def model(self, source_inputs, features, x, timm_mapping=None):
        """The finished model: the `features` dict (`features_only`) or the head on `x`; `weights` loaded.
        `x` may be a function of no arguments that makes the last feature map (a head conv only the head needs)."""
        outputs = features if self.features_only else self.head(x() if callable(x) else x)
        model = keras.Model(source_inputs, outputs, name=self.name)
        if is_hub_weights(self.weights):
            load_pretrained(model, self.weights, timm_mapping, include_top=self.include_top and not self.features_only,
                            classes=self.classes)
        elif self.weights is not None:
            load_weights(model, self.weights, timm_mapping=timm_mapping)
        return model


APPLICATION_ARGUMENTS = tuple(field.name for field in dataclasses.fields(ApplicationArgs))


def _keyword(name, default):
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)


def _signature(function, inherited, defaults):
    """`function`'s own parameters (less `app` and `**kwargs`), then the `inherited` ones it does not name."""
    own = [
        parameter for name, parameter in inspect.signature(function).parameters.items()
        if name != "app" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    named = {parameter.name for parameter in own}
    extra = [
        _keyword(parameter.name, defaults.get(parameter.name, parameter.default))
        for parameter in inherited if parameter.name not in named
    ]
    return inspect.Signature(own + extra)


def application_builder(**defaults):
    """Decorates a builder `f(..., app)`: its callers pass the keras.applications arguments as keywords, which
    arrive as one validated `ApplicationArgs` (with this builder's `defaults`, e.g. `classes=10`) in `app`."""

    def decorate(function):
        @functools.wraps(function)
        def build(*args, **kwargs):
            given = {name: kwargs.pop(name) for name in APPLICATION_ARGUMENTS if name in kwargs}
            return function(*args, app=ApplicationArgs(**{**defaults, **given}), **kwargs)

        fields = [_keyword(field.name, field.default) for field in dataclasses.fields(ApplicationArgs)]
        build.__signature__ = _signature(function, fields, defaults)
        return build

    return decorate


def extends(builder, fixes=()):
    """Decorates a family builder that forwards `**kwargs` to `builder`: its signature lists `builder`'s arguments
    too, less the ones it `fixes` itself, so that an unknown override is caught before building."""

    def decorate(function):
        inherited = [
            parameter for parameter in inspect.signature(builder).parameters.values()
            if parameter.name not in fixes and parameter.kind is not inspect.Parameter.VAR_POSITIONAL
        ]
        function.__signature__ = _signature(function, inherited, {})
        return function

    return decorate


def model_inputs(input_tensor, input_shape, default_size, min_size, include_top, name):
    """Validates `input_shape` and returns (input tensor of the graph, source inputs of the model)."""
    if input_tensor is not None:
        if input_shape is None:
            input_shape = tuple(input_tensor.shape[1:])
    elif input_shape is None:
        input_shape = (default_size, default_size, 3) if include_top else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape} for {name}.")
    if not all(size is None or (isinstance(size, int) and not isinstance(size, bool)) for size in input_shape):
        raise ValueError(f"input_shape must hold integers (or None for a free height/width), got {input_shape} "
                         f"for {name}.")
    height, width, channels = input_shape
    if channels is None or channels < 1:
        raise ValueError(f"input_shape {input_shape} for {name} needs a known channel count >= 1.")
    for size in (height, width):
        if size is not None and size < min_size:
            raise ValueError(
                f"input_shape {input_shape} is too small for {name}: the network downsamples by {min_size}, "
                f"so height and width must be at least {min_size}."
            )
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape, name="input")
        return inputs, inputs
    if not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(
            f"input_tensor must be a Keras tensor (from keras.Input or a layer), got {type(input_tensor).__name__}."
        )
    return input_tensor, keras.utils.get_source_inputs(input_tensor)
