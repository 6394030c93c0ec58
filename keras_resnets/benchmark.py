"""Forward-pass throughput, measured fairly: same inputs, compiled the same way, runs interleaved."""

import statistics
import time

import numpy as np
import tensorflow as tf


def _compiled_forward(model):
    return tf.function(lambda images: model(images, training=False), jit_compile=False)


def compare_throughput(models, batch_size, input_shape, rounds=5, iterations=10, warmup=3):
    """Images per second of each model in `models` (name -> Keras model), as the median over `rounds`.

    Rounds alternate between the models so that machine noise hits them alike.
    """
    images = tf.constant(np.random.default_rng(0).uniform(size=(batch_size, *input_shape)).astype("float32"))
    forwards = {name: _compiled_forward(model) for name, model in models.items()}
    for forward in forwards.values():
        for _ in range(warmup):
            forward(images).numpy()
    samples = {name: [] for name in models}
    for _ in range(rounds):
        for name, forward in forwards.items():
            start = time.perf_counter()
            for _ in range(iterations):
                result = forward(images)
            result.numpy()
            samples[name].append(batch_size * iterations / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in samples.items()}
