"""Running a model's graph in training mode while watching its blocks: what the studies measure at initialization.

BatchNorm runs on batch statistics (training mode), as in the first step of training, so the gradient at one
example depends on the whole batch: that batch gradient is what the studies report.
"""

from keras_resnets import graph


def run_watching_blocks(model, inputs, is_block, call_block=None):
    """Runs `model` on `inputs` in training mode. Every call of a layer with `is_block(layer)` goes through
    `call_block(layer, x) -> y` (default: the plain call). Returns (outputs, [(layer, x, y), ...] in graph order).
    """
    blocks = []

    def call_layer(layer, args, kwargs):
        if not is_block(layer):
            return layer(*args, **{**kwargs, "training": True})
        (x,) = args
        y = call_block(layer, x) if call_block else layer(x, training=True)
        blocks.append((layer, x, y))
        return y

    return graph.replay(model, inputs, call_layer), blocks


def sample_images(batch_size, image_size=None):
    """One batch (images, labels) of the CIFAR-10 test sample shipped with the package, normalized as for
    training, optionally resized to `image_size`."""
    from keras_resnets.data import input_pipeline

    dataset, _ = input_pipeline("sample", "test", batch_size, training=False, recipe="cifar", image_size=image_size)
    return next(iter(dataset))
