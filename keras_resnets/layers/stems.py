"""Network stems: the convolutions before the first residual stage."""

from keras_resnets.backend import keras
from keras_resnets.checks import check_positive_int
from keras_resnets.layers.base import CompositeLayer, activation, apply_sequence, batch_norm, conv2d, register
from keras_resnets.layers.primitives import SymmetricPadding2D

STEM_TYPES = {
    "imagenet": "7x7/2 conv (He et al. 2015)",
    "deep": "three 3x3 convs, the first strided (ResNet-C/D, Bag of Tricks)",
    "cifar": "one 3x3 conv (He et al. 2015, Sec. 4.2)",
}


@register
class Stem(CompositeLayer):
    """The stem's convolutions, each followed by BN and activation; `preact=True` leaves the last one bare.

    `channels` is the output channel count; the deep stem's inner convs have `channels // 2`. The
    ImageNet stems' 3x3/2 max-pool is a separate layer (`stem_pool`) so that the stride-2 features stay
    reachable.
    """

    def __init__(self, kind="imagenet", channels=64, preact=False, activation="relu", **kwargs):
        super().__init__(**kwargs)
        if kind not in STEM_TYPES:
            allowed = "; ".join(f"'{key}' ({text})" for key, text in STEM_TYPES.items())
            raise ValueError(f"Unknown stem type {kind!r}; allowed: {allowed}.")
        self.kind = kind
        self.channels = check_positive_int("stem channels", channels)
        self.preact = preact
        self.activation = activation

    @property
    def strides(self):
        return 1 if self.kind == "cifar" else 2

    def build(self, input_shape):
        name = self.sublayer_name
        if self.kind == "deep":
            convs = [(3, self.channels // 2, 2), (3, self.channels // 2, 1), (3, self.channels, 1)]
        elif self.kind == "imagenet":
            convs = [(7, self.channels, 2)]
        else:
            convs = [(3, self.channels, 1)]
        self.stem_layers = []
        for index, (kernel_size, filters, strides) in enumerate(convs, start=1):
            suffix = str(index) if len(convs) > 1 else ""
            self.stem_layers += conv2d(filters, kernel_size, name(f"conv{suffix}"), strides)
            if self.preact and index == len(convs):
                break
            self.stem_layers += [
                batch_norm(name(f"bn{suffix}")),
                activation(self.activation, name(f"act{suffix}")),
            ]
        self.built = True

    def call(self, inputs):
        return apply_sequence(self.stem_layers, inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "kind": self.kind,
            "channels": self.channels,
            "preact": self.preact,
            "activation": self.activation,
        }


def stem_max_pool(name, non_negative_input=True):
    """3x3/2 max-pool with PyTorch's symmetric padding of 1.

    After a ReLU, zero padding gives exactly PyTorch's -inf padding and every runtime delegates it; a stem
    that ends with a bare conv (pre-activation nets) needs SymmetricPadding2D (MirrorPad) instead.
    """
    padding = keras.layers.ZeroPadding2D if non_negative_input else SymmetricPadding2D
    return [
        padding(1, name=f"{name}_pad"),
        keras.layers.MaxPooling2D(3, 2, padding="valid", name=name),
    ]
