"""The models on every Keras 3 backend: JAX and PyTorch compute what TensorFlow computes, from the same source.

This process (TensorFlow) builds a small member of every family, randomizes its BatchNorm statistics, saves it as
`.keras` and records its logits. One child per backend then, for every member: builds the model afresh,
flattens it and trains it 2 steps with `fit`; loads timm weights; checks that none of that imported TensorFlow
and that the TensorFlow-only parts refuse with one clear error; loads the TensorFlow file with the same logits
and saves its trained model. Back here, those files load under TensorFlow with the child's outputs.
PyTorch runs where a Python with torch is found: this one, or the one KERAS_RESNETS_TORCH_PYTHON names.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import keras_resnets
from keras_resnets.backend import IS_LEGACY_KERAS, BackendError, backend_name, keras
from tests.harness import assert_flatten_matches, run_under_backend, small_input_shape, to_numpy

LOGIT_TOLERANCE = 1e-4  # of the logit scale: max |logits| (at least 1)
# JAX compiles each new variable shape once per process: few and shared shapes keep the child quick
SMALL = dict(layers=(1, 1), widths=(16, 16), stem_chs=16)
# a small member of every family, each through its registry name (fewer blocks and stages, 10 classes);
# between them they use every block and primitive layer (DropPath, option-A shortcuts, split, mirror padding)
REPRESENTATIVES = {
    "resnet20": dict(depth=8, widths=(16, 16, 16)),
    "plain20": dict(depth=8, widths=(16, 16, 16)),
    "preact_resnet164": dict(depth=11),
    "wrn_16_8": dict(depth=10, widen_factor=1, dropout_rate=0.3),
    "resnext29_8x64d": dict(depth=11, cardinality=2, base_width=4),
    "resnet50d": dict(SMALL, drop_path_rate=0.1),
    "resnetv2_50": dict(SMALL),
    "resnext50_32x4d": dict(SMALL, cardinality=4),
    "seresnet18": dict(SMALL),
    "seresnext50_32x4d": dict(SMALL, cardinality=4),
    "wide_resnet50_2": dict(SMALL),
    "res2net50_26w_4s": dict(SMALL),
    "rexnet_100": dict(width_mult=0.5, depth_mult=0.2, drop_path_rate=0.1),
}
TIMM_FIXTURES = ("resnet_basic_d", "resnetv2_bottleneck", "seresnet", "resnext", "wide_resnet", "res2next",
                 "rexnet_100")
TENSORFLOW_ONLY = {
    "export": "import keras_resnets.export",
    "training": "from keras_resnets.training import train",
    "gradient_flow study": "import keras_resnets.studies; keras_resnets.studies.run('gradient_flow', OUTPUT)",
}
# XLA compiling the train step of a 1000-layer net takes over 14 GB of host memory (preact_resnet1001 on JAX was
# stopped at 14 GB); trained eagerly it peaks at 2.4 GB. Their blocks are compiled in every shallower sibling.
EAGER_FIT = ("resnet1202", "preact_resnet1001")
# XLA's CPU compiler at its lowest optimization level: compiles about 4x faster (JAX compiles every new shape)
FAST_COMPILE = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
CHILD = "import sys; from tests.test_backends import check_backend; check_backend(sys.argv[1])"


def build(name, overrides):
    return keras_resnets.create_model(name, classes=10, classifier_activation=None,
                                      input_shape=small_input_shape(name), **overrides)


def images_for(name, batch=2):
    return np.random.default_rng(1).uniform(0.0, 1.0, (batch, *small_input_shape(name))).astype("float32")


def randomize_batch_norms(model, seed=0):
    """Moving statistics and affine parameters away from their initial values, so that the check covers them,
    drawn so that a deep net stays numerically tame: each BatchNorm scales by gamma / sqrt(variance), 0.75 on
    average in square, so that activations (and float rounding) shrink rather than grow over hundreds of layers
    (at 1.2, seresnet152's logits reached 1e5 and two backends computed them 37% apart; ResNet-1202's overflowed).
    A gamma that starts at zero (`zero_init_last`, the nets deeper than 200 layers) stays near zero."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        kind = variable.path.rsplit("/", 1)[-1]
        shape = tuple(variable.shape)
        if kind == "gamma":
            scale = 1.0 if np.any(to_numpy(variable)) else 0.01
            variable.assign((scale * rng.uniform(0.5, 1.5, shape)).astype("float32"))
        elif kind == "moving_variance":
            variable.assign(rng.uniform(1.0, 2.0, shape).astype("float32"))
        elif kind in ("beta", "moving_mean"):
            variable.assign(rng.normal(0.0, 0.1, shape).astype("float32"))


def assert_same_logits(ours, reference, what):
    ours, reference = to_numpy(ours), np.asarray(reference)
    scale = max(1.0, float(np.max(np.abs(reference))))
    difference = float(np.max(np.abs(ours - reference)))
    assert difference <= LOGIT_TOLERANCE * scale, f"{what}: max |difference| {difference:.3g}, logit scale {scale:.3g}"


def save_reference_models(folder, models, timm_fixtures):
    """Under TensorFlow: every model as `<name>.tensorflow.keras`, its logits in `logits.npz`, and what the child
    checks in `checks.json`."""
    keras.utils.set_random_seed(0)
    logits = {}
    for name, overrides in models.items():
        model = build(name, overrides)
        randomize_batch_norms(model)
        model.save(folder / f"{name}.tensorflow.keras")
        logits[name] = to_numpy(model(images_for(name), training=False))
        assert np.all(np.isfinite(logits[name])), f"{name}: the reference logits are not finite"
    np.savez(folder / "logits.npz", **logits)
    (folder / "checks.json").write_text(json.dumps({"models": models, "timm_fixtures": timm_fixtures}))


def check_backend(folder):
    """In the child, on its backend: every check of the module docstring. Prints one JSON report."""
    folder = pathlib.Path(folder)
    checks = json.loads((folder / "checks.json").read_text())
    models = checks["models"]
    reference = np.load(folder / "logits.npz")
    built = {}
    for name, overrides in models.items():
        overrides = {key: tuple(value) if isinstance(value, list) else value for key, value in overrides.items()}
        model = build(name, overrides)
        assert_flatten_matches(model, images_for(name))
        # clipped: a deep plain net's gradients at initialization (plain110: exploding) would make the weights NaN
        model.compile(optimizer=keras.optimizers.SGD(0.01, global_clipnorm=1.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False if name in EAGER_FIT else "auto")
        before = [to_numpy(weight) for weight in model.trainable_weights]
        history = model.fit(images_for(name, batch=4), np.arange(4) % 10, batch_size=2, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1]), name
        after = [to_numpy(weight) for weight in model.trainable_weights]
        assert any(np.any(old != new) for old, new in zip(before, after)), name
        assert all(np.all(np.isfinite(weight)) for weight in after), f"{name}: weights not finite after 2 steps"
        built[name] = model
    from tests.test_timm_parity import build_from_fixture

    for fixture in TIMM_FIXTURES if checks["timm_fixtures"] else ():
        model, inputs, timm_logits = build_from_fixture(fixture)
        assert_same_logits(model(inputs, training=False), timm_logits, f"timm fixture {fixture}")
    # Keras' own `.keras` serializer imports TensorFlow where it is installed: checked before any file is saved
    tensorflow_imported = "tensorflow" in sys.modules
    refusals = {feature: _refusal(statement, folder) for feature, statement in TENSORFLOW_ONLY.items()}
    tensorflow_imported_by_refusals = "tensorflow" in sys.modules and not tensorflow_imported
    saved = {}
    for name, model in built.items():
        images = images_for(name)
        loaded = keras.saving.load_model(folder / f"{name}.tensorflow.keras")
        assert_same_logits(loaded(images, training=False), reference[name], f"{name} saved under TensorFlow")
        assert keras_resnets.count_params(model) == keras_resnets.count_params(loaded), name
        model.save(folder / f"{name}.{backend_name()}.keras")
        saved[name] = to_numpy(model(images, training=False))
    np.savez(folder / f"logits.{backend_name()}.npz", **saved)
    print(json.dumps({"backend": backend_name(), "models": sorted(saved), "tensorflow_imported": tensorflow_imported,
                      "tensorflow_imported_by_refusals": tensorflow_imported_by_refusals, "refusals": refusals}))


def _refusal(statement, folder):
    """The BackendError message `statement` raises, or what it did instead."""
    try:
        exec(statement, {"keras_resnets": keras_resnets, "OUTPUT": str(folder / "study")})
    except BackendError as error:
        return str(error)
    return f"no error from {statement}"


def run_backend_checks(backend, folder, models, python=sys.executable, timeout=1800, timm_fixtures=True):
    """The whole round: reference models here, the child's checks, its files loaded back here."""
    save_reference_models(folder, models, timm_fixtures)
    stdout = run_under_backend(backend, CHILD, timeout=timeout, python=python, args=(str(folder),), env=FAST_COMPILE)
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["backend"] == backend and report["models"] == sorted(models)
    assert not report["tensorflow_imported"], f"the models imported TensorFlow under {backend}"
    assert not report["tensorflow_imported_by_refusals"]
    for feature, message in report["refusals"].items():
        assert "runs on TensorFlow only" in message and f"'{backend}' backend" in message, (feature, message)
        assert "KERAS_BACKEND=tensorflow" in message, (feature, message)
    logits = np.load(folder / f"logits.{backend}.npz")
    for name in models:  # the round trip: saved (after training) under `backend`, loaded back here
        # compile=False: Keras records PyTorch's own SGD class in the file, which no other backend has
        restored = keras.saving.load_model(folder / f"{name}.{backend}.keras", compile=False)
        assert_same_logits(restored(images_for(name), training=False), logits[name], f"{name} saved under {backend}")
    return report


def imports(python, module):
    """Whether the interpreter `python` can import `module`."""
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0


def torch_python():
    """A Python that has torch: KERAS_RESNETS_TORCH_PYTHON, else this one; None where neither has it."""
    candidate = os.environ.get("KERAS_RESNETS_TORCH_PYTHON")
    if candidate is None:
        return sys.executable if importlib.util.find_spec("torch") else None
    return candidate if imports(candidate, "torch") else None


requires_keras_3 = pytest.mark.skipif(IS_LEGACY_KERAS, reason="Keras 3 backends; tf_keras runs on TensorFlow only")
requires_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                  reason="jax is not installed (the dev extra installs it)")
requires_torch = pytest.mark.skipif(
    torch_python() is None,
    reason="torch is not installed here (several GB; never a dependency): set KERAS_RESNETS_TORCH_PYTHON to a "
           "Python with torch and keras to run the PyTorch backend",
)
requires_full_registry = pytest.mark.skipif(
    not os.environ.get("KERAS_RESNETS_FULL_REGISTRY"),
    reason="every registered model at full size on JAX or PyTorch takes about an hour per backend on 2 CPU "
           "cores, beyond CI's budget (a small member of every family runs by default): "
           "KERAS_RESNETS_FULL_REGISTRY=1 runs it",
)


@requires_keras_3
@requires_jax
def test_every_family_on_jax(tmp_path):
    run_backend_checks("jax", tmp_path, REPRESENTATIVES)


@requires_keras_3
@requires_torch
def test_every_family_on_torch(tmp_path):
    run_backend_checks("torch", tmp_path, REPRESENTATIVES, python=torch_python())


@pytest.mark.slow
@requires_full_registry
@requires_keras_3
@requires_jax
@pytest.mark.parametrize("name", keras_resnets.list_models())
def test_registered_model_on_jax(tmp_path, name):
    """One child per model, so that a failure names its model and the registry can be run in parts (-k)."""
    run_backend_checks("jax", tmp_path, {name: {}}, timeout=3600, timm_fixtures=False)


@pytest.mark.slow
@requires_full_registry
@requires_keras_3
@requires_torch
@pytest.mark.parametrize("name", keras_resnets.list_models())
def test_registered_model_on_torch(tmp_path, name):
    run_backend_checks("torch", tmp_path, {name: {}}, python=torch_python(), timeout=3600, timm_fixtures=False)


LESION_ON_THE_FIXTURES = dict(runs_dir=os.path.join("tests", "fixtures", "trained"), resnet="resnet14",
                              plain="plain14", test_images=20, draws=1, max_k=1)
STUDY_CHILD = ("import json, sys; from keras_resnets import studies; "
               "studies.run('lesion', sys.argv[1], **json.loads(sys.argv[2]))")


def torch_python_with_tensorflow():
    """A Python with torch that also has TensorFlow (the studies read their test images through tf.data)."""
    python = torch_python()
    return python if python is not None and imports(python, "tensorflow") else None


TORCH_PYTHON_WITH_TENSORFLOW = torch_python_with_tensorflow()
STUDY_BACKENDS = [
    pytest.param("jax", sys.executable, marks=requires_jax),
    pytest.param("torch", TORCH_PYTHON_WITH_TENSORFLOW, marks=pytest.mark.skipif(
        TORCH_PYTHON_WITH_TENSORFLOW is None,
        reason="the lesion study on PyTorch needs a Python with torch and TensorFlow (its test images come through "
               "tf.data): set KERAS_RESNETS_TORCH_PYTHON to one")),
]


@requires_keras_3
@pytest.mark.parametrize("backend, python", STUDY_BACKENDS)
def test_lesion_study_measures_on_other_backends_what_it_measures_on_tensorflow(tmp_path, backend, python):
    """A study that needs only the models (model surgery and evaluation, no GradientTape) runs under JAX and
    PyTorch on the trained fixtures and finds the same errors as under TensorFlow, within one of its 20 test
    images."""
    from keras_resnets import studies

    studies.run("lesion", str(tmp_path / "tensorflow"), **LESION_ON_THE_FIXTURES)
    run_under_backend(backend, STUDY_CHILD, args=(str(tmp_path / backend), json.dumps(LESION_ON_THE_FIXTURES)),
                      env=FAST_COMPILE, python=python)
    results = {name: json.loads((tmp_path / name / "results.json").read_text())["results"]
               for name in ("tensorflow", backend)}
    for net in ("resnet", "plain"):
        errors = {name: [row["error"] for row in result["single_deletion"][net]] for name, result in results.items()}
        # errors in percent: one image of 20 is 5 points
        np.testing.assert_allclose(errors[backend], errors["tensorflow"], atol=5 + 1e-9, err_msg=net)
    assert json.loads((tmp_path / backend / "results.json").read_text())["machine"]["keras_backend"] == backend
