"""The one place that decides which Keras the package uses, and the few operations its layers compute with.

Keras 3 (`import keras`) is the default, on whichever backend Keras picks (TensorFlow, JAX or PyTorch:
KERAS_BACKEND, else keras.json). tensorflow-model-optimization only accepts tf_keras (Keras 2) models, so a
process that sets ``TF_USE_LEGACY_KERAS=1`` before importing TensorFlow gets tf_keras instead. Every other
module imports ``keras`` from here, sticks to the API both share, and does its raw math through ``ops``,
``random_uniform`` and ``nest`` below: `keras.ops` / `keras.random` / `keras.tree` under Keras 3, the same
names on TensorFlow under tf_keras (which has no `keras.ops`).
"""

import json
import os

IS_LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "0").lower() in ("1", "true", "yes")


class BackendError(ValueError):
    """A TensorFlow-only feature used while Keras runs on another backend."""


def requested_backend():
    """The backend Keras 3 will load, read as Keras reads it (KERAS_BACKEND, else keras.json), before it loads."""
    if IS_LEGACY_KERAS:
        return "tensorflow"
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(keras_home, "keras.json")) as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


if requested_backend() == "tensorflow":
    import keras_resnets.tensorflow_import  # noqa: F401  (before Keras: loads TensorFlow without its notices)

if IS_LEGACY_KERAS:
    import types

    import tensorflow as tf
    import tf_keras as keras  # noqa: F401

    ops = types.SimpleNamespace(
        floor=tf.floor,
        pad=lambda x, pad_width, mode="constant": tf.pad(x, pad_width, mode=mode.upper()),
        shape=tf.shape,
        split=lambda x, indices_or_sections, axis=0: tf.split(x, indices_or_sections, axis=axis),
    )
    nest = tf.nest

    def seed_generator():
        return None  # tf_keras draws from TensorFlow's global generator

    def random_uniform(shape, dtype, seed):
        del seed
        return tf.random.uniform(shape, dtype=dtype)

else:
    import keras  # noqa: F401

    ops = keras.ops
    nest = keras.tree

    def seed_generator():
        # JAX has no global random state: a layer that draws random numbers carries its own seed variable.
        return keras.random.SeedGenerator()

    def random_uniform(shape, dtype, seed):
        return keras.random.uniform(shape, dtype=dtype, seed=seed)


def to_numpy(tensor):
    """A tensor or variable of any backend as a numpy array (np.asarray refuses a torch tensor that requires grad,
    as a model's outputs under PyTorch do)."""
    import numpy as np

    return np.asarray(tensor) if IS_LEGACY_KERAS else keras.ops.convert_to_numpy(tensor)


def backend_name():
    """The backend models run on: 'tensorflow' (always under tf_keras), 'jax' or 'torch'."""
    return "tensorflow" if IS_LEGACY_KERAS else keras.backend.backend()


def require_tensorflow(feature):
    """Raises one clear BackendError when `feature` (TensorFlow-only) is used under another backend."""
    if backend_name() != "tensorflow":
        raise BackendError(
            f"{feature} runs on TensorFlow only, but Keras is running on the {backend_name()!r} backend; "
            f"run it with KERAS_BACKEND=tensorflow (the models, layers, weights and .keras files work on every "
            f"backend)."
        )


__all__ = [
    "IS_LEGACY_KERAS",
    "BackendError",
    "backend_name",
    "keras",
    "nest",
    "ops",
    "random_uniform",
    "require_tensorflow",
    "requested_backend",
    "seed_generator",
]
