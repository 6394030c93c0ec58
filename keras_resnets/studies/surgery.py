"""Model surgery on a trained residual network: delete or reorder its residual units at test time.

The result is a new functional graph that shares the trained layers (the way `graph.flatten` replays `call`):
no weight is copied, and every unit left in place computes exactly what it computed before.
"""

import dataclasses

from keras_resnets.backend import keras
from keras_resnets.graph import nodes, replay
from keras_resnets.layers.base import apply_sequence
from keras_resnets.layers.residual import ResidualBlock
from keras_resnets.layers.shortcut import shortcut_layers
from keras_resnets.studies.common import StudyError


@dataclasses.dataclass(frozen=True)
class Unit:
    """A residual unit of a model and the shapes it maps between (without the batch axis)."""

    layer: ResidualBlock
    input_shape: tuple
    output_shape: tuple

    @property
    def name(self):
        return self.layer.name

    @property
    def downsamples(self):
        """Changes the shape (stride 2, more channels): deleting it leaves the parameter-free option-A identity."""
        return self.input_shape != self.output_shape


def residual_units(model, what="model"):
    """The model's residual units in the order data flows through them; a model without any is an error."""
    units = [
        Unit(layer, tuple(inputs[0].shape[1:]), tuple(outputs[0].shape[1:]))
        for layer, inputs, outputs in nodes(model)
        if isinstance(layer, ResidualBlock)
    ]
    if not units:
        raise StudyError(
            f"The {what} {model.name!r} has no residual units (keras_resnets ResidualBlock layers) to delete, "
            "reorder or sample paths through; the trained-network studies need a ResNet or plain net built by "
            "keras_resnets (e.g. resnet56, plain56)."
        )
    return units


def bypass(unit, inputs):
    """What a deleted unit leaves: its shortcut; in a unit without one (a plain net) the parameter-free identity
    of option A: the input itself, or subsampled and zero-padded where the unit changes the shape."""
    if unit.shortcut_layers is not None:
        return unit.branches(inputs)[0]
    identity = shortcut_layers("A", inputs.shape[-1], unit.out_channels, unit.strides, f"{unit.name}_bypass")
    return apply_sequence(identity, inputs)


def rebuild(model, replace):
    """`model` as a new functional model in which unit `name` computes `replace[name](inputs)` instead of itself;
    every other layer is the trained layer itself."""

    def call_layer(layer, args, kwargs):
        if layer.name in replace:
            return replace[layer.name](*args)
        return layer(*args, **kwargs)

    reference = model.inputs[0]
    inputs = keras.Input(shape=tuple(reference.shape[1:]), dtype=reference.dtype)
    return keras.Model(inputs, replay(model, inputs, call_layer), name=f"{model.name}_surgery")


def delete_units(model, names):
    """`model` with the units `names` deleted: each computes `bypass` (its shortcut) instead."""
    units = {layer.name: layer for layer in model.layers if layer.name in set(names)}
    return rebuild(model, {name: lambda inputs, unit=units[name]: bypass(unit, inputs) for name in names})


def swap_units(model, pairs):
    """`model` with each pair of units (a, b) exchanged: a's position computes b and b's computes a. Both units
    of a pair must map between the same shapes."""
    layers = {layer.name: layer for layer in model.layers}
    replace = {}
    for first, second in pairs:
        replace[first], replace[second] = layers[second], layers[first]
    return rebuild(model, replace)
