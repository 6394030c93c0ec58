"""SGD with the papers' weight decay: an L2 term on conv and dense kernels only, added to the gradient
before momentum (PyTorch's `weight_decay`), never on BatchNorm parameters or biases."""

from keras_resnets.backend import keras
from keras_resnets.layers.base import PACKAGE

DECAYED_VARIABLES = ("kernel", "depthwise_kernel")


def is_decayed(variable):
    return variable.name.split(":")[0].split("/")[-1] in DECAYED_VARIABLES


@keras.saving.register_keras_serializable(package=PACKAGE)
class KernelDecaySGD(keras.optimizers.SGD):
    """`keras.optimizers.SGD` whose gradient of every kernel gets `l2 * kernel` added (coupled decay)."""

    def __init__(self, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, *learning_rate):
        # Runs per variable after the cross-replica sum, so the decay term is added exactly once. (Keras 3 passes
        # the learning rate; tf_keras does not.)
        if self.l2 and is_decayed(variable):
            gradient = gradient + self.l2 * variable
        return super().update_step(gradient, variable, *learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}
