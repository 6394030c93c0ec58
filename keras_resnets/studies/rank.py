"""Rank bottlenecks (Han et al. 2021, "Rethinking Channel Dimensions for Efficient Model Design", ReXNet).

1. Single layers f(WX), W in R^{d_out x d_in}, X in R^{d_in x N} (N >> d_out), d_out drawn at random and
   d_in = ratio * d_out: the normalized rank rank(f(WX)) / d_out for several nonlinearities (the paper's
   Fig. 1a/b). W has N(0, 1/d_in) entries and X N(0, 1), so WX has unit-variance entries.
2. Random L-layer networks that grow from `network_input_dim` to `network_output_dim` channels: k of the
   L - 1 layers before the output layer are expand layers (k = 0 ... L - 1, spread evenly, the rest keep their
   width), the output layer makes the last expansion step; the normalized rank of the output against k (Fig. 1c/d).
   Each layer is f(W h) on the standardized h (per channel over the N samples, BatchNorm-like).
3. `rexnet_100` at initialization on real images: the normalized rank of the features after every block, with
   SiLU (the paper's choice) and with ReLU6 in its place (the builder's `activation` argument).

The numerical rank counts singular values above `tolerance * largest singular value` (float64 SVD). The answer
depends on the tolerance: at a tight one almost any nonlinearity makes f(WX) full rank, so every figure shows
several tolerances.
"""

import dataclasses
import os

import numpy as np

from keras_resnets.backend import keras
from keras_resnets.layers.rexnet import LinearBottleneck
from keras_resnets.models.rexnet import ReXNet
from keras_resnets.studies import figures
from keras_resnets.studies.common import StudyError, progress
from keras_resnets.studies.probe import run_watching_blocks, sample_images

NONLINEARITIES = {
    "identity": keras.activations.linear,
    "relu": keras.activations.relu,
    "relu6": keras.activations.relu6,
    "leaky_relu": keras.activations.leaky_relu,  # negative slope 0.2 (Keras' default)
    "elu": keras.activations.elu,
    "silu": keras.activations.silu,
    "softplus": keras.activations.softplus,
    "hard_swish": keras.activations.hard_swish,
}
REXNET_ACTIVATIONS = ("silu", "relu6")


@dataclasses.dataclass
class Options:
    ratios: tuple[float, ...] = dataclasses.field(
        default=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), metadata={"help": "d_in / d_out, each in (0, 1]."})
    nonlinearities: tuple[str, ...] = dataclasses.field(
        default=tuple(NONLINEARITIES), metadata={"help": f"Nonlinearities f: {', '.join(NONLINEARITIES)}."})
    tolerances: tuple[float, ...] = dataclasses.field(
        default=(0.1, 0.03, 0.01, 1e-3, 1e-10),
        metadata={"help": "Rank tolerances, relative to the largest singular value, each in (0, 1)."})
    repetitions: int = dataclasses.field(
        default=30, metadata={"help": "Random layers (and networks) per point (the paper: 10,000)."})
    min_out_dim: int = dataclasses.field(default=64, metadata={"help": "Smallest d_out drawn."})
    max_out_dim: int = dataclasses.field(default=128, metadata={"help": "Largest d_out drawn."})
    samples: int = dataclasses.field(default=1024, metadata={"help": "N, the columns of X (>= 2 * max_out_dim)."})
    network_layers: int = dataclasses.field(default=6, metadata={"help": "L, the layers of the random networks."})
    network_input_dim: int = dataclasses.field(default=16, metadata={"help": "Input channels of the networks."})
    network_output_dim: int = dataclasses.field(default=128, metadata={"help": "Output channels of the networks."})
    network_nonlinearities: tuple[str, ...] = dataclasses.field(
        default=("relu6", "silu"), metadata={"help": "Nonlinearities of the random networks."})
    batch_size: int = dataclasses.field(default=16, metadata={"help": "Real images fed to rexnet_100."})
    image_size: int = dataclasses.field(default=224, metadata={"help": "Size the CIFAR-10 sample is resized to."})
    seed: int = dataclasses.field(default=0, metadata={"help": "Random seed."})

    def validate(self):
        bad = [ratio for ratio in self.ratios if not 0 < ratio <= 1]
        if bad or not self.ratios:
            raise StudyError(f"ratios (d_in / d_out) must each be in (0, 1], got {list(self.ratios)}.")
        bad = [tolerance for tolerance in self.tolerances if not 0 < tolerance < 1]
        if bad or not self.tolerances:
            raise StudyError(f"tolerances must each be in (0, 1) (relative to the largest singular value), "
                             f"got {list(self.tolerances)}.")
        for names in (self.nonlinearities, self.network_nonlinearities):
            unknown = sorted(set(names) - set(NONLINEARITIES))
            if unknown or not names:
                raise StudyError(f"Unknown nonlinearities {unknown or '(none given)'}; allowed: "
                                 f"{', '.join(NONLINEARITIES)}.")
        if self.repetitions < 2:
            raise StudyError(f"repetitions must be >= 2 (the figures show the spread), got {self.repetitions}.")
        if not 10 <= self.min_out_dim <= self.max_out_dim:
            raise StudyError(f"Need 10 <= min_out_dim <= max_out_dim, got {self.min_out_dim}, {self.max_out_dim}.")
        if self.samples < 2 * max(self.max_out_dim, self.network_output_dim):
            raise StudyError(f"samples (N) must be >= 2 x the largest width "
                             f"({2 * max(self.max_out_dim, self.network_output_dim)}), got {self.samples}.")
        if self.network_layers < 2 or not 1 <= self.network_input_dim < self.network_output_dim:
            raise StudyError("Need network_layers >= 2 and 1 <= network_input_dim < network_output_dim, got "
                             f"{self.network_layers}, {self.network_input_dim}, {self.network_output_dim}.")
        if self.batch_size < 1 or self.image_size < 32:
            raise StudyError(f"Need batch_size >= 1 and image_size >= 32, got {self.batch_size}, {self.image_size}.")


def normalized_ranks(matrices, tolerances, dims=None):
    """rank / dim of each matrix in the (batch, rows, columns) stack, at each tolerance: (batch, tolerances).
    dim defaults to min(rows, columns)."""
    singular = keras.ops.convert_to_numpy(keras.ops.svd(matrices, full_matrices=False, compute_uv=False))
    dims = min(np.shape(matrices)[1:]) if dims is None else dims
    counts = [np.sum(singular > tolerance * singular[:, :1], axis=1) for tolerance in tolerances]
    return np.stack(counts, axis=1) / dims


def random_linear(h, out_dim, rng):
    """W h with W ~ N(0, 1 / d_in): unit-variance entries for unit-variance h."""
    return keras.ops.convert_to_tensor(rng.normal(0.0, 1.0 / np.sqrt(h.shape[0]), (out_dim, h.shape[0])) @ h)


def single_layer_ranks(options, rng, bar):
    """{nonlinearity: array (ratios, repetitions, tolerances)} of rank(f(WX)) / d_out."""
    names = list(options.nonlinearities)
    ranks = np.zeros((len(names), len(options.ratios), options.repetitions, len(options.tolerances)))
    for repetition in range(options.repetitions):
        out_dim = int(rng.integers(options.min_out_dim, options.max_out_dim + 1))
        for index, ratio in enumerate(options.ratios):
            inputs = rng.standard_normal((max(1, round(ratio * out_dim)), options.samples))
            linear = random_linear(inputs, out_dim, rng)
            stack = keras.ops.stack([NONLINEARITIES[name](linear) for name in names])
            ranks[:, index, repetition] = normalized_ranks(stack, options.tolerances, out_dim)
        bar.add(1)
    return dict(zip(names, ranks))


def network_widths(layers, input_dim, output_dim, expand_layers):
    """Output widths of an L-layer network with `expand_layers` expand layers (evenly spread) among the first
    L - 1 and a final layer to `output_dim`: k + 1 equal growth steps."""
    widths, width, step = [], input_dim, 0
    expanding = set(np.round(np.linspace(0, layers - 2, expand_layers)).astype(int)) if expand_layers else set()
    for layer in range(layers - 1):
        if layer in expanding:
            step += 1
            width = round(input_dim + (output_dim - input_dim) * step / (expand_layers + 1))
        widths.append(width)
    return widths + [output_dim]


def network_ranks(options, rng, bar):
    """{nonlinearity: array (expand layer counts, repetitions, tolerances)} of the output's rank / width."""
    counts = range(options.network_layers)
    results = {}
    for name in options.network_nonlinearities:
        ranks = np.zeros((len(counts), options.repetitions, len(options.tolerances)))
        for count in counts:
            widths = network_widths(options.network_layers, options.network_input_dim, options.network_output_dim,
                                    count)
            outputs = []
            for _ in range(options.repetitions):
                h = rng.standard_normal((options.network_input_dim, options.samples))
                for width in widths:
                    standardized = (h - h.mean(axis=1, keepdims=True)) / (h.std(axis=1, keepdims=True) + 1e-12)
                    h = keras.ops.convert_to_numpy(NONLINEARITIES[name](random_linear(standardized, width, rng)))
                outputs.append(h)
            ranks[count] = normalized_ranks(np.stack(outputs), options.tolerances, options.network_output_dim)
            bar.add(1)
        results[name] = ranks
    return results


def rexnet_block_ranks(options, bar):
    """{activation: array (blocks, tolerances)} of the normalized rank of the features after every block of
    rexnet_100 at initialization (training-mode BatchNorm) on real images; and the blocks' names."""
    images, _ = sample_images(options.batch_size, options.image_size)
    results = {}
    for activation in REXNET_ACTIVATIONS:
        keras.utils.set_random_seed(options.seed)  # the same weights for both activations
        model = ReXNet(1.0, activation=activation, include_top=False, input_shape=(options.image_size,) * 2 + (3,))
        _, blocks = run_watching_blocks(model, images, lambda layer: isinstance(layer, LinearBottleneck))
        ranks = []
        for _, _, features in blocks:
            matrix = keras.ops.reshape(keras.ops.cast(features, "float64"), (1, -1, features.shape[-1]))
            ranks.append(normalized_ranks(matrix, options.tolerances)[0])
        results[activation] = np.array(ranks)
        names = [layer.name for layer, _, _ in blocks]
        keras.backend.clear_session()
        bar.add(1)
    return results, names


def run(options, output_dir):
    rng = np.random.default_rng(options.seed)
    steps = options.repetitions + options.network_layers * len(options.network_nonlinearities) + 2
    bar = progress(steps, "Ranks of random layers, random networks and rexnet_100")
    layer = single_layer_ranks(options, rng, bar)
    network = network_ranks(options, rng, bar)
    rexnet, blocks = rexnet_block_ranks(options, bar)
    results = {
        "tolerances": list(options.tolerances),
        "single_layer": {name: _spread(ranks, axis=1) for name, ranks in layer.items()},
        "networks": {
            name: {**_spread(ranks, axis=1), "widths": [
                network_widths(options.network_layers, options.network_input_dim, options.network_output_dim, count)
                for count in range(options.network_layers)]}
            for name, ranks in network.items()
        },
        "rexnet_100": {"blocks": blocks, "images": f"CIFAR-10 sample, {options.batch_size} test images resized to "
                                                   f"{options.image_size}", **{a: r for a, r in rexnet.items()}},
    }
    setting = (f"{options.repetitions} random draws per point, d_out in [{options.min_out_dim}, {options.max_out_dim}],"
               f" N = {options.samples}, rank tolerance relative to the largest singular value; seed {options.seed}")
    results["figures"] = [
        plot_single_layer(results, options, os.path.join(output_dir, "rank_vs_ratio.png"), setting),
        plot_networks(results, options, os.path.join(output_dir, "rank_vs_expand_layers.png"),
                      f"{options.network_layers}-layer networks, {options.network_input_dim} -> "
                      f"{options.network_output_dim} channels; {setting}"),
        plot_rexnet(results, options, os.path.join(output_dir, "rexnet_block_ranks.png"),
                    f"rexnet_100 at initialization, BatchNorm on batch statistics, {results['rexnet_100']['images']};"
                    f" seed {options.seed}"),
    ]
    return results, summary(results, options)


def _spread(ranks, axis):
    """mean, std, min and max over the repetitions axis; arrays indexed (point, tolerance)."""
    return {"mean": ranks.mean(axis=axis), "std": ranks.std(axis=axis), "min": ranks.min(axis=axis),
            "max": ranks.max(axis=axis)}


def plot_single_layer(results, options, path, setting):
    ratios = np.asarray(options.ratios)
    figure, axes = figures.new_figure(1, len(options.tolerances), width=3.4, height=3.4, sharey=True)
    for column, (panel, tolerance) in enumerate(zip(axes.flat, options.tolerances)):
        for name, stats in results["single_layer"].items():
            mean, std = stats["mean"][:, column], stats["std"][:, column]
            style = dict(color="k", linestyle="--") if name == "identity" else {}
            (line,) = panel.plot(ratios, mean, marker=".", label=name, **style)
            panel.fill_between(ratios, mean - std, mean + std, color=line.get_color(), alpha=0.12)
        panel.set_title(f"tolerance {tolerance:g} x sigma_max", fontsize=9)
        panel.set_xlabel("d_in / d_out")
        panel.grid(alpha=0.3)
    axes.flat[0].set_ylabel("rank(f(WX)) / d_out  (band: 1 std)")
    axes.flat[0].legend(fontsize=7)
    return os.path.basename(figures.save_figure(figure, path, setting))


def plot_networks(results, options, path, setting):
    counts = np.arange(options.network_layers)
    names = list(results["networks"])
    figure, axes = figures.new_figure(1, len(names), width=4.2, height=3.4, sharey=True)
    for panel, name in zip(axes.flat, names):
        stats = results["networks"][name]
        for column, tolerance in enumerate(options.tolerances):
            mean, std = stats["mean"][:, column], stats["std"][:, column]
            (line,) = panel.plot(counts, mean, marker="o", markersize=3, label=f"tolerance {tolerance:g}")
            panel.fill_between(counts, mean - std, mean + std, color=line.get_color(), alpha=0.12)
        panel.set_title(f"{name} networks")
        panel.set_xlabel(f"expand layers among the first {options.network_layers - 1}")
        panel.grid(alpha=0.3)
    axes.flat[0].set_ylabel("rank(output) / output channels")
    axes.flat[0].legend(fontsize=7)
    return os.path.basename(figures.save_figure(figure, path, setting))


def plot_rexnet(results, options, path, setting):
    blocks = results["rexnet_100"]["blocks"]
    index = np.arange(1, len(blocks) + 1)
    figure, axes = figures.new_figure(1, len(options.tolerances), width=3.4, height=3.2, sharey=True)
    for column, (panel, tolerance) in enumerate(zip(axes.flat, options.tolerances)):
        for activation in REXNET_ACTIVATIONS:
            panel.plot(index, results["rexnet_100"][activation][:, column], marker=".", label=activation)
        panel.set_title(f"tolerance {tolerance:g} x sigma_max", fontsize=9)
        panel.set_xlabel("block (stage1_block1 = 1)")
        panel.grid(alpha=0.3)
    axes.flat[0].set_ylabel("rank(features) / channels")
    axes.flat[0].legend(fontsize=7, title="activation")
    return os.path.basename(figures.save_figure(figure, path, setting))


def summary(results, options):
    lines = ["Mean normalized rank rank(f(WX))/d_out over the ratios below 1, per tolerance:"]
    names = list(results["single_layer"])
    below_one = np.asarray(options.ratios) < 1
    lines.append("tolerance".ljust(11) + "".join(name.rjust(11) for name in names))
    for column, tolerance in enumerate(options.tolerances):
        means = [results["single_layer"][name]["mean"][below_one, column].mean() for name in names]
        lines.append(f"{tolerance:<11g}" + "".join(f"{mean:11.3f}" for mean in means))
    lines.append("Random networks, rank(output)/width with 0 and with all expand layers:")
    for name, stats in results["networks"].items():
        lines.append(f"  {name}: " + ", ".join(
            f"tol {tolerance:g}: {stats['mean'][0, column]:.3f} -> {stats['mean'][-1, column]:.3f}"
            for column, tolerance in enumerate(options.tolerances)))
    lines.append("rexnet_100, mean normalized rank of the block features:")
    for activation in REXNET_ACTIVATIONS:
        ranks = np.asarray(results["rexnet_100"][activation])
        lines.append(f"  {activation}: " + ", ".join(
            f"tol {tolerance:g}: {ranks[:, column].mean():.3f}" for column, tolerance in enumerate(options.tolerances)))
    return "\n".join(lines)
