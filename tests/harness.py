"""What the README promises of every registered model, checked on every one: the exact parameter count, a finite
forward pass, `flatten` computing the same, a `.keras` round trip, `features_only` outputs at their tagged strides,
and a float TFLite file with built-in ops only computing the same within 1e-4; with the assertion helpers the
other test files share (relative error, no Flex ops)."""

import os
import re
import subprocess
import sys
import tempfile

import numpy as np

import keras_resnets
from keras_resnets.backend import IS_LEGACY_KERAS, keras, to_numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ImageNet models are checked at 64x64 (parameter counts do not depend on the input size).
SMALL_IMAGENET_SIZE = 64
FEATURE_TAG = re.compile(r"^(STEM|STAGE\d+)_S(\d+)$")
TFLITE_RELATIVE_TOLERANCE = 1e-4


def small_input_shape(name):
    info = keras_resnets.model_info(name)
    size = SMALL_IMAGENET_SIZE if info.dataset == "imagenet" else info.input_size
    return (size, size, 3)


def random_images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (batch, *shape)).astype("float32")


def relative_error(actual, expected):
    """Largest absolute difference relative to the largest |expected| value."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def assert_builtin_only(content):
    """The operator names of a `.tflite` flatbuffer, asserting none is a Flex (TensorFlow) or custom op."""
    from keras_resnets.export import operator_names

    names = operator_names(content)
    assert not [name for name in names if name.startswith("Flex") or name == "CUSTOM"], names
    return names


def assert_tflite_matches_keras(model, images=None, relative=TFLITE_RELATIVE_TOLERANCE):
    """Converts `model` to float TFLite, asserts built-in ops only and outputs within `relative` of Keras'; returns
    the operator names."""
    from keras_resnets.export import predict, to_tflite

    content = to_tflite(model)
    names = assert_builtin_only(content)
    if images is None:
        images = random_images(tuple(model.inputs[0].shape[1:]), batch=2)
    error = relative_error(predict(content, images), model(images, training=False))
    assert error <= relative, f"{model.name}: TFLite differs from Keras by {error:.2e} of the output scale"
    return names


def assert_features_at_their_strides(model, name, shape, images):
    """`features_only=True` gives the tagged features (STEM_S2 ... STAGEn_S32), each at 1/stride of the input,
    strides never decreasing, from a sub-network of the classifier `model` (its weights, by name and shape)."""
    features = keras_resnets.create_model(name, input_shape=shape, features_only=True)
    outputs = features(images, training=False)
    assert isinstance(outputs, dict) and outputs, f"{name}: features_only gave {type(outputs).__name__}"
    strides = []
    for tag, value in outputs.items():
        match = FEATURE_TAG.match(tag)
        assert match, f"{name}: feature tag {tag!r} is not STEM_S<stride> or STAGE<k>_S<stride>"
        stride = int(match.group(2))
        assert tuple(value.shape[1:3]) == (-(-shape[0] // stride), -(-shape[1] // stride)), (tag, value.shape)
        assert np.all(np.isfinite(value)), tag
        strides.append(stride)
    assert strides == sorted(strides), f"{name}: strides {strides} decrease"
    shapes = {weight.path: tuple(weight.shape) for weight in model.weights}
    missing = [weight.path for weight in features.weights if shapes.get(weight.path) != tuple(weight.shape)]
    assert not missing, f"{name}: features_only has weights the classifier does not: {missing[:3]}"


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


def check_registered_model(name, tflite=True, saving_and_features=True):
    """Build at a small input; check the parameter count, forward, flatten, (with `saving_and_features`) the
    `.keras` round trip and features_only, and (with `tflite`) the float TFLite file."""
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
    if saving_and_features:
        assert_keras_roundtrip(model, images)
        assert_features_at_their_strides(model, name, shape, images)
    if tflite:
        assert_tflite_matches_keras(model, images)


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
