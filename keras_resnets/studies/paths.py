"""Effective paths (Veit et al. 2016, Sec. 5 and Fig. 6): how much gradient reaches the input through paths of
each length in a trained ResNet.

A ResNet of n units with shortcuts has 2^n paths, one per choice of "residual branch" or "shortcut" in each unit,
so their lengths (residual branches taken) are Binomial(n, 1/2). To measure the paths of length k, each unit's
addition gets a custom gradient that passes the incoming gradient to the residual branch only (in k random
units) or to the shortcut only (in the others); the forward pass is unchanged. The gradient measured is that
of the summed cross-entropy over the test images, with BatchNorm in inference mode, with respect to the input
of the first unit, as the L2 norm per image. In inference mode each image's gradient is its own, so every image
of a batch takes its own random path: one pass measures as many paths as there are images.
"""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.graph import replay
from keras_resnets.layers.base import apply_sequence
from keras_resnets.studies import evaluation, figures, runs, surgery
from keras_resnets.studies.common import StudyError, progress

# Veit et al. 2016: in ResNet-110 (54 units) almost all gradient comes from paths 5 to 17 units long.
VEIT_UNITS, VEIT_EFFECTIVE = 54, (5, 17)


@dataclasses.dataclass
class Options(runs.TrainedResNet):
    test_images: int = dataclasses.field(
        default=100, metadata={"help": "Test images per pass; each takes its own random path of the length."}
    )
    draws: int = dataclasses.field(
        default=3, metadata={"help": "Passes per path length, each with fresh random paths (test_images each)."}
    )
    mass: float = dataclasses.field(
        default=0.9, metadata={"help": "Share of the total gradient the marked effective range of lengths carries."}
    )

    def validate(self):
        if self.test_images < 1 or self.draws < 1:
            raise StudyError(f"--test_images and --draws must be >= 1, got {self.test_images} and {self.draws}.")
        if not 0 < self.mass <= 1:
            raise StudyError(f"--mass must be in (0, 1], got {self.mass}.")


@tf.custom_gradient
def gated_sum(shortcut, residual, through_residual):
    """shortcut + residual; the gradient flows to the residual branch where through_residual is 1, else to the
    shortcut."""

    def gradient(upstream):
        return upstream * (1.0 - through_residual), upstream * through_residual, tf.zeros_like(through_residual)

    return shortcut + residual, gradient


def path_length_counts(units):
    """Number of paths of each length 0..n through the units: a unit with a shortcut offers length 0 or 1, one
    without (a plain net's) only its branch. For a ResNet this is the binomial coefficients C(n, k)."""
    counts = [1]
    for unit in units:
        longer = [0] + counts
        counts = [a + b for a, b in zip(counts + [0], longer)] if unit.layer.shortcut_layers is not None else longer
    return counts


class PathGradients:
    """Gradients of a trained model's loss at the input of its first unit, through chosen paths only."""

    def __init__(self, model):
        self.model = model
        self.units = surgery.residual_units(model)
        if any(unit.layer.shortcut_layers is None for unit in self.units):
            raise StudyError(f"{model.name!r} has units without shortcuts: its paths cannot be sampled (a plain net "
                             "has one path); pass a ResNet run.")
        self.index = {unit.name: i for i, unit in enumerate(self.units)}
        self.from_logits = _outputs_logits(model)
        self._gradients = tf.function(self._gradients_eager, reduce_retracing=True)

    def _gradients_eager(self, images, labels, through_residual):
        ends = {}
        with tf.GradientTape() as tape:

            def call_layer(layer, args, kwargs):
                if layer.name not in self.index:
                    return layer(*args, **kwargs)
                i = self.index[layer.name]
                x = args[0]
                if i == 0:
                    tape.watch(x)
                    ends["input"] = x
                shortcut, residual = layer.branches(x)
                gate = tf.reshape(through_residual[:, i], (-1, 1, 1, 1))  # one path choice per image
                output = apply_sequence(layer.post_layers, gated_sum(shortcut, residual, gate))
                if i == len(self.units) - 1:
                    tape.watch(output)
                    ends["output"] = output
                return output

            outputs = replay(self.model, images, call_layer)
            losses = keras.losses.sparse_categorical_crossentropy(labels, outputs, from_logits=self.from_logits)
            loss = tf.reduce_sum(losses)
        gradients = tape.gradient(loss, [ends["input"], ends["output"]])
        return gradients[0], gradients[1], outputs

    def gradients(self, images, labels, through_residual):
        """(gradient at the first unit's input, gradient at the last unit's output, model outputs) with the
        gradient passing unit i's residual branch where through_residual[..., i] is 1, its shortcut where 0:
        one choice (n,) for every image, or one per image (images, n)."""
        gates = np.broadcast_to(np.asarray(through_residual, dtype="float32"), (len(images), len(self.units)))
        return self._gradients(tf.constant(images), tf.constant(labels), tf.constant(gates))

    def input_gradient_norms(self, images, labels, through_residual):
        """The L2 norm of each image's gradient at the first unit's input."""
        gradient = self.gradients(images, labels, through_residual)[0].numpy()
        return np.linalg.norm(gradient.reshape(len(gradient), -1), axis=1)


def _outputs_logits(model):
    """The training app's models end in logits; a model with a softmax head gives probabilities."""
    activation = model.layers[-1].get_config().get("activation")
    return activation not in ("softmax", keras.activations.softmax)


def effective_range(totals, mass):
    """(first, last) of the shortest run of consecutive lengths that carries `mass` of the summed totals."""
    totals = np.asarray(totals, dtype="float64")
    target, best = mass * totals.sum(), (0, len(totals) - 1)
    for first in range(len(totals)):
        cumulative = np.cumsum(totals[first:])
        reach = np.nonzero(cumulative >= target * (1 - 1e-12))[0]
        if len(reach) and reach[0] < best[1] - best[0]:
            best = (first, first + int(reach[0]))
    return best


def run(options, output_dir):
    run_dir = os.path.join(options.runs_dir, options.resnet)
    sampler = PathGradients(runs.load_model(run_dir))
    images, labels = evaluation.test_images(run_dir, options.test_images, options.dataset)
    n = len(sampler.units)
    counts = path_length_counts(sampler.units)
    rng = np.random.default_rng(options.seed)
    bar = progress(n + 1, f"Gradient through paths of each length 0..{n}")
    magnitudes = []
    for k in range(n + 1):
        draws = 1 if k in (0, n) else options.draws  # a single path of this length: every draw is the same
        norms = []
        for _ in range(draws):
            gates = np.zeros((len(labels), n))
            for row in gates:
                row[rng.choice(n, k, replace=False)] = 1.0
            norms.append(float(np.mean(sampler.input_gradient_norms(images, labels, gates))))
        magnitudes.append(norms)
        bar.add(1)
    means = [float(np.mean(norms)) for norms in magnitudes]
    totals = [count * mean for count, mean in zip(counts, means)]
    first, last = effective_range(totals, options.mass)
    scaled = tuple(round(bound * n / VEIT_UNITS, 1) for bound in VEIT_EFFECTIVE)
    results = {
        "run": run_dir,
        "units": n,
        "test_images": len(labels),
        "path_length_counts": counts,
        "binomial": [math.comb(n, k) for k in range(n + 1)],
        "gradient_magnitude": magnitudes,
        "mean_gradient_magnitude": means,
        "total_gradient_magnitude": totals,
        "effective_range": [first, last],
        "effective_mass": options.mass,
        "veit_effective_range_scaled": list(scaled),
        "figure": "paths.png",
    }
    setting = (f"trained run {runs.describe_run(run_dir)}, {n} units; {len(labels)} test images; "
               f"{options.draws} passes per length, each image on its own random path; seed {options.seed}; gradient "
               "of the summed cross-entropy at the first unit's input, BatchNorm in inference mode")
    _figure(results, setting, os.path.join(output_dir, "paths.png"))
    summary = (
        f"Paths of {os.path.basename(run_dir)} ({n} units, 2^{n} paths): gradient magnitude at length 0: "
        f"{means[0]:.3g}, at length {n // 2}: {means[n // 2]:.3g}, at length {n}: {means[n]:.3g}.\n"
        f"Effective range ({options.mass:.0%} of the total gradient): lengths {first} to {last} of {n}; "
        f"Veit et al.'s 5-17 of 54 scaled to {n} units: {scaled[0]} to {scaled[1]}."
    )
    return results, summary


def _figure(results, setting, path):
    figure, axes = figures.new_figure(1, 3, width=4.6, height=3.8)
    lengths = np.arange(results["units"] + 1)
    first, last = results["effective_range"]
    axes[0, 0].bar(lengths, results["path_length_counts"], color="tab:gray")
    axes[0, 0].set(title="(a) paths of each length: C(n, k)", xlabel="path length (residual branches taken)",
                   ylabel="number of paths")
    magnitudes = results["gradient_magnitude"]
    for k, norms in enumerate(magnitudes):
        axes[0, 1].plot([k] * len(norms), norms, ".", color="tab:blue", alpha=0.3)
    axes[0, 1].plot(lengths, results["mean_gradient_magnitude"], "-", color="tab:blue", label="mean (dots: passes)")
    axes[0, 1].set(title="(b) gradient magnitude per path length", xlabel="path length",
                   ylabel="|gradient| at the input", yscale="log")
    axes[0, 2].bar(lengths, results["total_gradient_magnitude"], color="tab:blue")
    axes[0, 2].axvspan(first - 0.5, last + 0.5, color="tab:orange", alpha=0.25, zorder=0,
                       label=f"effective range {first}-{last} ({results['effective_mass']:.0%})")
    axes[0, 2].set(title="(c) total gradient per path length", xlabel="path length", ylabel="paths x mean |gradient|")
    for axis in axes[0]:
        axis.grid(alpha=0.3)
    axes[0, 1].legend(fontsize=7)
    axes[0, 2].legend(fontsize=7)
    figures.save_figure(figure, path, setting)
