"""The shortcut (skip) path of a residual block, in the types of He et al. 2015 and Bag of Tricks (ResNet-D)."""

from keras_resnets.backend import keras
from keras_resnets.layers.base import batch_norm, conv2d
from keras_resnets.layers.primitives import SubsampleZeroPad

SHORTCUT_TYPES = ("A", "B", "C", "D")
SHORTCUT_HELP = (
    "'A' (identity, subsampling and zero-padded channels), 'B' (projection when the shape changes), "
    "'C' (projection always), 'D' (average-pool then projection) or None (no shortcut: a plain net)"
)


def validate_shortcut(kind):
    if kind is not None and kind not in SHORTCUT_TYPES:
        raise ValueError(f"Unknown shortcut type {kind!r}; allowed: {SHORTCUT_HELP}.")
    return kind


def shortcut_transforms(kind, in_channels, out_channels, strides):
    """Whether the shortcut path does more than pass its input on (timm: the block has a `downsample`)."""
    if kind is None:
        return False
    return kind == "C" or strides != 1 or in_channels != out_channels


def shortcut_layers(kind, in_channels, out_channels, strides, name, norm=True):
    """The layers of the shortcut path, applied in order; [] is the identity.

    `norm=False` drops the projection's BatchNorm (pre-activation units feed it an already normalized input).
    """
    if not shortcut_transforms(kind, in_channels, out_channels, strides):
        return []
    if kind == "A":
        if out_channels < in_channels:
            raise ValueError(
                f"Shortcut type 'A' can only add channels, but {name} goes from {in_channels} to "
                f"{out_channels}; use type 'B' or 'C'."
            )
        return [SubsampleZeroPad(strides, out_channels - in_channels, name=f"{name}_pad")]
    layers = []
    conv_strides = strides
    if kind == "D" and strides > 1:
        # timm: AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) == TF "same" average pooling.
        layers.append(keras.layers.AveragePooling2D(strides, strides, padding="same", name=f"{name}_pool"))
        conv_strides = 1
    layers += conv2d(out_channels, 1, f"{name}_conv", strides=conv_strides)
    if norm:
        layers.append(batch_norm(f"{name}_bn"))
    return layers
