"""The one place that decides which Keras the package uses.

Keras 3 (`import keras`) is the default. tensorflow-model-optimization only accepts tf_keras (Keras 2)
models, so a process that sets ``TF_USE_LEGACY_KERAS=1`` before importing TensorFlow gets tf_keras instead.
Every other module imports ``keras`` from here and sticks to the API both share.
"""

import os

IS_LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "0").lower() in ("1", "true", "yes")

if IS_LEGACY_KERAS:
    import tf_keras as keras  # noqa: F401
else:
    import keras  # noqa: F401

__all__ = ["keras", "IS_LEGACY_KERAS"]
