"""Walking a functional model's graph, and `flatten`.

The node APIs of Keras 3 and tf_keras differ and are not public; this is the only module that touches them.
"""

import contextlib
import sys

from keras_resnets.backend import IS_LEGACY_KERAS, keras, nest
from keras_resnets.layers.base import inline_composites


def _replay_legacy(model, inputs, call_layer):
    """tf_keras: Functional._run_internal_graph with a hook on each call."""
    tensors = {}
    for reference, tensor in zip(model.inputs, nest.flatten(inputs)):
        tensors[str(id(reference))] = [tensor] * model._tensor_usage_count[str(id(reference))]
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            args, kwargs = node.map_arguments(tensors)
            outputs = call_layer(node.layer, args, kwargs)
            for output_id, tensor in zip(node.flat_output_ids, nest.flatten(outputs)):
                tensors[output_id] = [tensor] * model._tensor_usage_count[output_id]
    outputs = [tensors[str(id(reference))].pop() for reference in model.outputs]
    return nest.pack_sequence_as(model._nested_outputs, outputs)


def replay(model, inputs, call_layer):
    """Runs `model`'s graph on `inputs`, computing each node as `call_layer(layer, args, kwargs)`."""
    if IS_LEGACY_KERAS:
        return _replay_legacy(model, inputs, call_layer)
    return model._run_through_graph(
        inputs, operation_fn=lambda operation: operation, call_fn=lambda layer, *a, **k: call_layer(layer, a, k)
    )


def nodes(model):
    """Yields (layer, input_tensors, output_tensors) for each non-input node of `model`, in graph order."""
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            if IS_LEGACY_KERAS:
                yield node.layer, nest.flatten(node.keras_inputs), nest.flatten(node.outputs)
            else:
                yield node.operation, list(node.input_tensors), list(node.outputs)


@contextlib.contextmanager
def recursion_limit(limit):
    """Keras maps a functional graph recursively: a flat ResNet-1202 is thousands of layers deep."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _is_functional(layer):
    return isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth")


def flatten(model, input_shape=None):
    """A functional model of primitive Keras layers computing the same function with the same weights.

    Every composite block is replaced by the sublayers its `call` composes (recursively, nested functional
    models included). The layers are shared, not copied: the flat model and `model` hold the same variables.
    `input_shape` (without the batch axis) fixes a new input size; the default keeps the model's.
    """
    if not _is_functional(model):
        raise ValueError(f"flatten needs a functional Keras model, got {type(model).__name__}.")
    new_inputs = []
    for reference in model.inputs:
        shape = tuple(reference.shape[1:]) if input_shape is None else tuple(input_shape)
        new_inputs.append(keras.Input(shape=shape, dtype=reference.dtype, name=reference.name.split(":")[0]))

    def call_layer(layer, args, kwargs):
        if _is_functional(layer):
            return replay(layer, args[0], call_layer)
        return layer(*args, **kwargs)

    graph_inputs = new_inputs if len(new_inputs) > 1 else new_inputs[0]
    with inline_composites(), recursion_limit(100_000):
        outputs = replay(model, graph_inputs, call_layer)
        return keras.Model(graph_inputs, outputs, name=f"{model.name}_flat")
