"""Gradient flow at initialization (He et al. 2016, "Identity Mappings in Deep Residual Networks", Sec. 3-4).

On one batch of real CIFAR-10 images (the package's sample), the norm of d loss / d x_l at the input x_l of every
residual unit, for plain nets and for the unit placements (a)-(e), at several depths. With a clean shortcut
path (e) the loss gradient reaches every unit directly (their Eq. 5); without shortcuts it is multiplied through
every layer and its norm spans many orders of magnitude.

The nets are the package's CIFAR builders with the papers' initialization at every depth (He-normal convs,
BatchNorm gamma = 1; `zero_init_last=False`, which the builder would otherwise switch on above 200 layers).
BatchNorm runs on batch statistics, so each gradient is that of the batch-mean cross-entropy.
"""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.layers.residual import PLACEMENTS, ResidualBlock
from keras_resnets.models.resnet import CifarResNet, PreActResNet
from keras_resnets.studies import figures
from keras_resnets.studies.common import StudyError, progress
from keras_resnets.studies.probe import run_watching_blocks, sample_images

VARIANTS = ("plain",) + tuple(PLACEMENTS)
VARIANT_LABELS = {"plain": "plain (no shortcuts)",
                  **{key: f"({key}) {text.split(':')[0]}" for key, text in PLACEMENTS.items()}}
BOTTLENECK_FROM = 164  # the papers' bottleneck nets: ResNet-164 and -1001 (He et al. 2016); shallower are basic


@dataclasses.dataclass
class Options:
    depths: tuple[int, ...] = dataclasses.field(
        default=(20, 56, 110),
        metadata={"help": "Depths of the CIFAR nets: 6n+2 (basic units, e.g. 20, 56, 110, 1202) or, from 164 on, "
                          "9n+2 (bottleneck units: 164, 1001)."})
    variants: tuple[str, ...] = dataclasses.field(
        default=VARIANTS, metadata={"help": "Nets to compare: plain and the unit placements a-e."})
    batch_size: int = dataclasses.field(default=16, metadata={"help": "Images in the batch the gradient is taken on."})
    seed: int = dataclasses.field(default=0, metadata={"help": "Random seed."})

    def validate(self):
        if not self.depths:
            raise StudyError("depths must list at least one depth.")
        for depth in self.depths:
            cifar_architecture(depth)
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown or not self.variants:
            raise StudyError(f"Unknown variants {unknown or '(none given)'}; allowed: {', '.join(VARIANTS)}.")
        if self.batch_size < 2:
            raise StudyError(f"batch_size must be >= 2 (BatchNorm needs batch statistics), got {self.batch_size}.")


def cifar_architecture(depth):
    """(builder, block) of the papers' CIFAR net of `depth`: bottleneck units for 9n+2 depths from 164 on
    (ResNet-164, -1001), basic units for 6n+2 depths otherwise (ResNet-20 ... -110, -1202)."""
    if isinstance(depth, int) and depth >= BOTTLENECK_FROM and (depth - 2) % 9 == 0:
        return PreActResNet, "bottleneck"
    if isinstance(depth, int) and depth >= 8 and (depth - 2) % 6 == 0:
        return CifarResNet, "basic"
    raise StudyError(
        f"No CIFAR ResNet has depth {depth!r}: depths are 6n+2 with basic units (20, 32, 44, 56, 110, 1202) or, "
        f"from {BOTTLENECK_FROM} on, 9n+2 with bottleneck units (164, 1001)."
    )


def build_network(depth, variant):
    builder, block = cifar_architecture(depth)
    plain = variant == "plain"
    return builder(depth, block, placement="a" if plain else variant, plain=plain, zero_init_last=False,
                   classifier_activation=None, name=f"{variant}_{depth}")


def unit_gradient_log_norms(model, images, labels):
    """log10 ||d loss / d x_l|| at the input x_l of every residual unit of `model` (first unit first), and at the
    output x_L of the last unit.

    Each unit runs under its own tape and the gradient is carried back one unit at a time, rescaled to norm 1 with
    the scale kept as a logarithm (the vector-Jacobian product is linear, so this is exact): a plain net's
    gradient grows past the float32 range within a few hundred layers.
    """
    outer = tf.GradientTape()
    unit_tapes = []

    def call_unit(layer, x):
        with outer.stop_recording(), tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        outer.watch(y)
        unit_tapes.append(tape)
        return y

    with outer:
        logits, units = run_watching_blocks(model, images, lambda layer: isinstance(layer, ResidualBlock), call_unit)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    for (_, _, y), (_, x_next, _) in zip(units, units[1:]):
        if y is not x_next:
            raise RuntimeError(f"{model.name}: a layer sits between two residual units; the gradient is carried "
                               "back through a chain of units only.")
    gradient = outer.gradient(loss, units[-1][2])
    output_log_norm = math.log10(float(tf.norm(gradient)))
    log_scale, log_norms = 0.0, []
    for (_, x, y), tape in zip(reversed(units), reversed(unit_tapes)):
        norm = float(tf.norm(gradient))
        log_scale += math.log10(norm)
        gradient = tape.gradient(y, x, output_gradients=gradient / norm)
        log_norms.append(log_scale + math.log10(float(tf.norm(gradient))))
    return {"log10_norms": log_norms[::-1], "log10_norm_at_output": output_log_norm, "initial_loss": float(loss)}


def run(options, output_dir):
    images, labels = sample_images(options.batch_size)
    results = {"images": "CIFAR-10 sample, test split", "batch_size": options.batch_size, "depths": {}}
    bar = progress(len(options.depths) * len(options.variants), "Gradient norms at every residual unit's input")
    for depth in options.depths:
        builder, block = cifar_architecture(depth)
        entry = {"builder": builder.__name__, "block": block, "variants": {}}
        for variant in options.variants:
            keras.utils.set_random_seed(options.seed)
            model = build_network(depth, variant)
            norms = unit_gradient_log_norms(model, images, labels)
            log_norms = norms["log10_norms"]
            entry["variants"][variant] = {**norms, "log10_ratio": max(log_norms) - min(log_norms)}
            keras.backend.clear_session()
            bar.add(1)
        entry["units"] = len(log_norms)
        results["depths"][str(depth)] = entry
    setting = f"{_setting(options)}; seed {options.seed}"
    results["figures"] = [plot_norms(results, os.path.join(output_dir, "gradient_flow.png"), setting)]
    return results, summary(results)


def _setting(options):
    return (f"CIFAR nets at initialization (papers' init), batch of {options.batch_size} real CIFAR-10 images, "
            f"BatchNorm on batch statistics, loss = mean cross-entropy")


def plot_norms(results, path, setting):
    depths = list(results["depths"])
    columns = min(len(depths), 3)
    rows = -(-len(depths) // columns)
    figure, axes = figures.new_figure(rows, columns, width=4.6, height=3.6)
    for panel, depth in zip(axes.flat, depths):
        entry = results["depths"][depth]
        for variant, values in entry["variants"].items():
            units = np.arange(1, len(values["log10_norms"]) + 1)
            panel.plot(units, values["log10_norms"], label=VARIANT_LABELS[variant], linewidth=1.2)
        if "e" in entry["variants"]:
            # He et al. 2016, Eq. 5: with identity shortcuts every unit receives d loss / d x_L unchanged.
            panel.axhline(entry["variants"]["e"]["log10_norm_at_output"], color="0.4", linestyle="--", linewidth=0.8,
                          label="d loss/d x_L: the shortcut term of\nHe et al. 2016 Eq. 5 (from (e))")
        panel.set_title(f"depth {depth} ({entry['block']} units)")
        panel.set_xlabel("residual unit l (input side = 1)")
        panel.set_ylabel("log10 ||d loss / d x_l||")
        panel.grid(alpha=0.3)
    for panel in list(axes.flat)[len(depths):]:
        panel.axis("off")
    axes.flat[0].legend(fontsize=6.5)
    return os.path.basename(figures.save_figure(figure, path, setting))


def summary(results):
    variants = list(next(iter(results["depths"].values()))["variants"])
    depths = list(results["depths"])
    lines = ["Largest / smallest per-unit gradient norm (10^x), at initialization:",
             "variant".ljust(30) + "".join(f"depth {depth}".rjust(12) for depth in depths)]
    for variant in variants:
        ratios = [results["depths"][depth]["variants"][variant]["log10_ratio"] for depth in depths]
        lines.append(VARIANT_LABELS[variant].ljust(30) + "".join(f"10^{ratio:.1f}".rjust(12) for ratio in ratios))
    return "\n".join(lines)
