"""The same source builds and runs under tf_keras (TF_USE_LEGACY_KERAS=1), in a separate process."""

import textwrap

from tests.harness import run_under_tf_keras

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tf_keras
    import keras_resnets
    from keras_resnets.backend import IS_LEGACY_KERAS, keras
    assert IS_LEGACY_KERAS and keras is tf_keras
    names = ["resnet20", "plain20", "resnet18d", "resnetv2_50d", "preact_resnet164", "seresnext50_32x4d", "wrn_16_8"]
    for name in names:
        info = keras_resnets.model_info(name)
        size = 64 if info.dataset == "imagenet" else 32
        model = keras_resnets.create_model(name, input_shape=(size, size, 3), placement="b") if name == "preact_resnet164" \
            else keras_resnets.create_model(name, input_shape=(size, size, 3))
        assert isinstance(model, tf_keras.Model)
        images = np.random.default_rng(0).uniform(size=(2, size, size, 3)).astype("float32")
        out = model(images, training=False).numpy()
        flat = keras_resnets.flatten(model)
        assert np.max(np.abs(flat(images, training=False).numpy() - out)) < 1e-5
        if info.reference_params and name != "preact_resnet164":
            assert keras_resnets.count_params(model) == info.reference_params, name
        print("ok", name, flat.count_params())
    """
)


def test_representative_models_under_tf_keras():
    assert run_under_tf_keras(SCRIPT, timeout=600).count("ok ") == 7
