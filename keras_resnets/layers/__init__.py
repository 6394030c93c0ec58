"""Every block of the family as a serializable Keras layer."""

from keras_resnets.layers.attention import SqueezeExcite
from keras_resnets.layers.base import CompositeLayer, inline_composites
from keras_resnets.layers.primitives import DropPath, SubsampleZeroPad, SymmetricPadding2D
from keras_resnets.layers.res2net import ChannelSplit, HierarchicalSplit, Res2NetBottleneck
from keras_resnets.layers.residual import (
    PLACEMENTS,
    BasicBlock,
    Bottleneck,
    PreActBasicBlock,
    PreActBottleneck,
    ResidualBlock,
)
from keras_resnets.layers.rexnet import LinearBottleneck
from keras_resnets.layers.shortcut import SHORTCUT_TYPES
from keras_resnets.layers.stems import STEM_TYPES, Stem

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ChannelSplit",
    "CompositeLayer",
    "DropPath",
    "HierarchicalSplit",
    "LinearBottleneck",
    "PLACEMENTS",
    "PreActBasicBlock",
    "PreActBottleneck",
    "Res2NetBottleneck",
    "ResidualBlock",
    "SHORTCUT_TYPES",
    "STEM_TYPES",
    "SqueezeExcite",
    "Stem",
    "SubsampleZeroPad",
    "SymmetricPadding2D",
    "inline_composites",
]
