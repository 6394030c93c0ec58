"""Checks every model of every family goes through: forward, flatten, `.keras` round trip, parameter count."""

import os
import subprocess
import sys
import tempfile

import numpy as np

import keras_resnets
from keras_resnets.backend import IS_LEGACY_KERAS, keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ImageNet models are checked at 64x64 (parameter counts do not depend on the input size).
SMALL_IMAGENET_SIZE = 64


def small_input_shape(name):
    info = keras_resnets.model_info(name)
    size = SMALL_IMAGENET_SIZE if info.dataset == "imagenet" else info.input_size
    return (size, size, 3)


def random_images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (batch, *shape)).astype("float32")


def to_numpy(tensor):
    """A tensor or variable of any backend as a numpy array (np.asarray refuses a torch tensor that has a grad)."""
    return np.asarray(tensor) if IS_LEGACY_KERAS else keras.ops.convert_to_numpy(tensor)


def assert_flatten_matches(model, images, atol=1e-5):
    flat = keras_resnets.flatten(model)
    composite = [layer.name for layer in flat.layers if isinstance(layer, keras_resnets.layers.CompositeLayer)]
    assert not composite, f"flatten left composite layers: {composite}"
    np.testing.assert_allclose(to_numpy(flat(images, training=False)), to_numpy(model(images, training=False)),
                               atol=atol, rtol=0)
    return flat


def assert_keras_roundtrip(model, images, atol=1e-6):
    """Saves as `.keras`, loads, and compares outputs (Keras 3; tf_keras has its own format)."""
    if IS_LEGACY_KERAS:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(images, training=False), model(images, training=False), atol=atol, rtol=0)


def check_registered_model(name):
    """Build at a small input, check the parameter count, forward, flatten and `.keras` round trip."""
    info = keras_resnets.model_info(name)
    shape = small_input_shape(name)
    model = keras_resnets.create_model(name, input_shape=shape)
    if info.reference_params is not None:
        assert keras_resnets.count_params(model) == info.reference_params
    images = random_images(shape)
    outputs = model(images, training=False)
    assert outputs.shape == (2, model.output_shape[-1])
    assert np.all(np.isfinite(outputs))
    assert_flatten_matches(model, images)
    assert_keras_roundtrip(model, images)


def run_python(script, env=None, timeout=300, python=sys.executable, args=()):
    """Runs the Python `script` (with `args`) in a child from the repository root, its environment updated
    with `env`; returns its stdout. The Keras a process uses is chosen at import, hence the child."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    result = subprocess.run([python, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def run_under_tf_keras(script, timeout=300):
    """Runs the Python `script` in a child with TF_USE_LEGACY_KERAS=1 (tf_keras, tfmot); returns its stdout."""
    return run_python(script, {"TF_USE_LEGACY_KERAS": "1"}, timeout)


def run_under_backend(backend, script, timeout=300, python=sys.executable, args=(), env=None):
    """Runs the Python `script` in a child whose Keras 3 runs on `backend` ('jax', 'torch', 'tensorflow')."""
    env = {"KERAS_BACKEND": backend, "TF_USE_LEGACY_KERAS": "0", **(env or {})}
    return run_python(script, env, timeout, python, args)
