"""Shattered gradients (Balduzzi et al. 2017, "The Shattered Gradients Problem: If resnets are the answer, then
what is the question?", arXiv:1702.08591).

A scalar input on a grid of points in [-2, 2]; fully-connected layers of `width` ReLU units, He-initialized, with
BatchNorm over the grid points. A feed-forward net of depth L stacks L (linear, BN, ReLU) layers; a residual net
of depth L has the same first layer (it lifts the scalar to `width` units) and L - 1 residual units
h + branch_scale * ReLU(BN(W h)). A linear readout gives one scalar per point; the study takes the gradient of the
readout summed over the grid with respect to the input at every point (BatchNorm on the grid's statistics, so
the points interact, as in a training batch). The paper: in feed-forward nets the gradients at nearby points
decorrelate exponentially with depth (like 2^-L) and look like white noise; in resnets the decay is sublinear
(like 1/sqrt(L) with BatchNorm) and the gradient stays a smooth, brown-noise-like curve.

For speed, the nets of all depths in one repetition share their layers: the depth-L net is the first L layers of
the deepest net with its own readout. Without BatchNorm every layer gets a random bias (drawn like its
weights): with zero biases a ReLU net of a scalar input is positively homogeneous and its gradient a step at 0.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from keras_resnets.backend import keras
from keras_resnets.layers.base import BN_EPSILON
from keras_resnets.studies import figures
from keras_resnets.studies.common import StudyError, progress

KINDS = ("feedforward", "residual")
KIND_LABELS = {"feedforward": "feed-forward", "residual": "residual"}
ACF_DEPTHS = (1, 5, 10, 20, 50)  # the depths the autocorrelation figure shows, where run


@dataclasses.dataclass
class Options:
    depths: tuple[int, ...] = dataclasses.field(
        default=(1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50),
        metadata={"help": "Depths of the feed-forward and residual nets (the paper: 1-50)."})
    repetitions: int = dataclasses.field(default=20, metadata={"help": "Random initializations averaged over."})
    width: int = dataclasses.field(default=200, metadata={"help": "Units per fully-connected layer."})
    points: int = dataclasses.field(default=256, metadata={"help": "Grid points in [-2, 2]."})
    batch_norm: bool = dataclasses.field(
        default=True, metadata={"help": "BatchNorm over the grid points in every layer (else random biases)."})
    branch_scale: float = dataclasses.field(
        default=1.0, metadata={"help": "Factor on every residual branch: h + branch_scale * ReLU(BN(W h))."})
    lags: int = dataclasses.field(default=20, metadata={"help": "Largest lag of the autocorrelation figure."})
    seed: int = dataclasses.field(default=0, metadata={"help": "Random seed."})

    def validate(self):
        if not self.depths or min(self.depths) < 1 or len(set(self.depths)) != len(self.depths):
            raise StudyError(f"depths must be distinct integers >= 1, got {self.depths}.")
        if self.repetitions < 2:
            raise StudyError(f"repetitions must be >= 2 (the figures show the spread), got {self.repetitions}.")
        if self.width < 2:
            raise StudyError(f"width must be >= 2, got {self.width}.")
        if not 1 <= self.lags <= self.points - 2:
            raise StudyError(f"lags must be in [1, points - 2] = [1, {self.points - 2}], got {self.lags}.")
        if not self.branch_scale > 0:
            raise StudyError(f"branch_scale must be > 0, got {self.branch_scale}.")


def grid(points):
    return np.linspace(-2.0, 2.0, points, dtype=np.float32)


def random_layers(rng, options):
    """He-normal weights (and, without BatchNorm, biases) of the deepest net, one set per repetition, and one
    readout per depth: [(weights, biases)], {depth: readout}."""
    repetitions, width = options.repetitions, options.width

    def normal(variance, shape):
        return rng.normal(0.0, np.sqrt(variance), (repetitions,) + shape).astype(np.float32)

    layers = []
    for index in range(max(options.depths)):
        fan_in = 1 if index == 0 else width
        biases = None if options.batch_norm else normal(2.0 / fan_in, (1, width))
        layers.append((normal(2.0 / fan_in, (fan_in, width)), biases))
    readouts = {depth: normal(1.0 / width, (width, 1)) for depth in options.depths}
    return layers, readouts


def _layer(h, weights, biases):
    """ReLU(BN(h W)) with statistics over the grid axis (1), or ReLU(h W + b) when the layer has biases (no
    BatchNorm); one net per leading index."""
    z = keras.ops.matmul(h, weights)
    if biases is None:
        mean, variance = keras.ops.moments(z, axes=[1], keepdims=True)
        z = (z - mean) / keras.ops.sqrt(variance + BN_EPSILON)
    else:
        z = z + biases
    return keras.ops.relu(z)


def input_gradients(kind, layers, readouts, options):
    """{depth: d(sum of the readout over the grid) / d input, shape (repetitions, points)} for nets of `kind`."""
    x = tf.constant(np.broadcast_to(grid(options.points)[None, :, None], (options.repetitions, options.points, 1)))
    outputs = {}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = x
        for depth, (weights, biases) in enumerate(layers, start=1):
            branch = _layer(h, weights, biases)
            h = branch if kind == "feedforward" or depth == 1 else h + options.branch_scale * branch
            if depth in readouts:
                outputs[depth] = keras.ops.sum(keras.ops.matmul(h, readouts[depth]))
    return {depth: tape.gradient(output, x).numpy()[..., 0] for depth, output in outputs.items()}


def autocorrelation(signals, lags):
    """Autocorrelation at lags 1..`lags` of each row of `signals` over its own points: (rows, lags)."""
    centered = signals - signals.mean(axis=1, keepdims=True)
    energy = np.sum(centered * centered, axis=1)
    return np.stack([np.sum(centered[:, :-lag] * centered[:, lag:], axis=1) / energy for lag in range(1, lags + 1)],
                    axis=1)


def fit_decay(depths, correlations, errors):
    """Fits of log c = a + b L (exponential: c ~ rate^L) and log c = a + b log L (power: c ~ L^b) over the
    depths where the mean correlation stands above 3 standard errors (below that it is noise)."""
    depths, correlations, errors = map(np.asarray, (depths, correlations, errors))
    kept = correlations > 3 * errors
    if kept.sum() < 3:
        return {"depths_fitted": depths[kept].tolist(), "exponential": None, "power": None}
    log_c = np.log(correlations[kept])
    fits = {"depths_fitted": depths[kept].tolist()}
    for name, abscissa in (("exponential", depths[kept].astype(float)), ("power", np.log(depths[kept]))):
        slope, intercept = np.polyfit(abscissa, log_c, 1)
        rms = float(np.sqrt(np.mean((intercept + slope * abscissa - log_c) ** 2)))
        fits[name] = {"slope": float(slope), "intercept": float(intercept), "rms_log_residual": rms}
    fits["exponential"]["rate_per_layer"] = float(np.exp(fits["exponential"]["slope"]))
    fits["power"]["exponent"] = fits["power"]["slope"]
    fits["better"] = min(("exponential", "power"), key=lambda name: fits[name]["rms_log_residual"])
    return fits


def run(options, output_dir):
    rng = np.random.default_rng(options.seed)
    layers, readouts = random_layers(rng, options)
    results = {"grid": grid(options.points).tolist(), "kinds": {}}
    bar = progress(len(KINDS), f"Input gradients of {len(options.depths)} depths x {options.repetitions} "
                               f"initializations")
    for kind in KINDS:
        gradients = input_gradients(kind, layers, readouts, options)
        entry = {"depths": {}}
        for depth in sorted(gradients):
            acf = autocorrelation(gradients[depth], options.lags)
            entry["depths"][str(depth)] = {
                "acf_mean": acf.mean(axis=0), "acf_std": acf.std(axis=0),
                "lag1_mean": float(acf[:, 0].mean()), "lag1_std": float(acf[:, 0].std()),
                "lag1_sem": float(acf[:, 0].std() / np.sqrt(len(acf))),
                "example_gradient": gradients[depth][0],
            }
        stats = [entry["depths"][str(depth)] for depth in sorted(gradients)]
        entry["fit"] = fit_decay(sorted(gradients), [s["lag1_mean"] for s in stats], [s["lag1_sem"] for s in stats])
        results["kinds"][kind] = entry
        bar.add(1)
    noise = np.random.default_rng(options.seed).standard_normal((options.repetitions, options.points))
    results["white_noise"], results["brown_noise"] = noise[0], np.cumsum(noise[0])
    results["brown_noise_acf_mean"] = autocorrelation(np.cumsum(noise, axis=1), options.lags).mean(axis=0)
    setting = (f"width {options.width}, {options.points} points in [-2, 2], "
               f"{'BatchNorm over the points' if options.batch_norm else 'no BatchNorm (random biases)'}, "
               f"branch scale {options.branch_scale:g}, He init, {options.repetitions} initializations, "
               f"seed {options.seed}")
    results["figures"] = [
        plot_gradients(results, os.path.join(output_dir, "gradients.png"), setting),
        plot_autocorrelation(results, os.path.join(output_dir, "autocorrelation.png"), setting),
        plot_decay(results, os.path.join(output_dir, "correlation_vs_depth.png"), setting),
    ]
    return results, summary(results)


def plot_gradients(results, path, setting):
    """The paper's Fig. 1: gradients over the grid of a shallow and a deep feed-forward net, a residual net of the
    same depth, and brown and white noise for reference."""
    x = np.asarray(results["grid"])
    feedforward, residual = results["kinds"]["feedforward"]["depths"], results["kinds"]["residual"]["depths"]
    shallow, deep = min(feedforward, key=int), max(feedforward, key=int)
    panels = [
        (f"feed-forward, depth {shallow}", feedforward[shallow]["example_gradient"]),
        (f"feed-forward, depth {deep}", feedforward[deep]["example_gradient"]),
        (f"residual, depth {deep}", residual[deep]["example_gradient"]),
        ("brown noise (reference)", results["brown_noise"]),
        ("white noise (reference)", results["white_noise"]),
    ]
    figure, axes = figures.new_figure(1, len(panels), width=3.0, height=2.6)
    for panel, (title, values) in zip(axes.flat, panels):
        panel.plot(x, values, linewidth=0.8)
        panel.set_title(title, fontsize=9)
        panel.set_xlabel("input x")
    axes.flat[0].set_ylabel("d output / d x (one initialization)")
    return os.path.basename(figures.save_figure(figure, path, setting))


def plot_autocorrelation(results, path, setting):
    lags = np.arange(1, len(results["brown_noise_acf_mean"]) + 1)
    figure, axes = figures.new_figure(1, 2, width=4.4, height=3.4, sharey=True)
    for panel, kind in zip(axes.flat, KINDS):
        depths = results["kinds"][kind]["depths"]
        for depth in [str(depth) for depth in ACF_DEPTHS if str(depth) in depths]:
            mean, std = np.asarray(depths[depth]["acf_mean"]), np.asarray(depths[depth]["acf_std"])
            (line,) = panel.plot(lags, mean, marker=".", label=f"depth {depth}")
            panel.fill_between(lags, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        panel.plot(lags, results["brown_noise_acf_mean"], "k--", linewidth=0.8, label="brown noise")
        panel.axhline(0.0, color="k", linestyle=":", linewidth=0.8, label="white noise")
        panel.set_title(f"{KIND_LABELS[kind]} nets")
        panel.set_xlabel("lag (grid points)")
        panel.grid(alpha=0.3)
        panel.legend(fontsize=7)
    axes.flat[0].set_ylabel("autocorrelation of the gradient\n(mean, band: 1 std over initializations)")
    return os.path.basename(figures.save_figure(figure, path, setting))


def plot_decay(results, path, setting):
    """Correlation of gradients at neighbouring points against depth, log-scaled, with the fitted decays and the
    paper's rates 2^-L and 1/sqrt(L) anchored at depth 1."""
    figure, axes = figures.new_figure(1, 1, width=6.0, height=4.4)
    panel = axes[0, 0]
    floor = 1e-3
    for kind in KINDS:
        entry = results["kinds"][kind]
        depths = np.array(sorted(int(depth) for depth in entry["depths"]))
        mean = np.array([entry["depths"][str(depth)]["lag1_mean"] for depth in depths])
        std = np.array([entry["depths"][str(depth)]["lag1_std"] for depth in depths])
        (line,) = panel.plot(depths, np.maximum(mean, floor), marker="o", markersize=3, label=f"{KIND_LABELS[kind]}")
        panel.fill_between(depths, np.maximum(mean - std, floor), np.maximum(mean + std, floor),
                           color=line.get_color(), alpha=0.15)
        fit = entry["fit"]
        name = "exponential" if kind == "feedforward" else "power"
        if fit[name]:
            fitted = np.asarray(fit["depths_fitted"], dtype=float)
            abscissa = fitted if name == "exponential" else np.log(fitted)
            text = (f"rate {fit[name]['rate_per_layer']:.2f}^L" if name == "exponential"
                    else f"L^{fit[name]['exponent']:.2f}")
            panel.plot(fitted, np.exp(fit[name]["intercept"] + fit[name]["slope"] * abscissa), color=line.get_color(),
                       linestyle="-.", linewidth=1, label=f"fit: {text}")
    first = results["kinds"]["feedforward"]["depths"]
    depth_axis = np.arange(1, max(int(depth) for depth in first) + 1)
    anchor = first[min(first, key=int)]["lag1_mean"]
    panel.plot(depth_axis, anchor * 2.0 ** -(depth_axis - 1.0), "k--", linewidth=0.8, label="2^-L (paper, ff)")
    panel.plot(depth_axis, anchor / np.sqrt(depth_axis), "k:", linewidth=1, label="1/sqrt(L) (paper, resnet+BN)")
    panel.set_yscale("log")
    panel.set_ylim(floor * 0.8, 1.5)
    panel.set_xlabel("depth L")
    panel.set_ylabel("correlation of gradients at neighbouring points\n(lag-1 autocorrelation; band: 1 std)")
    panel.grid(alpha=0.3, which="both")
    panel.legend(fontsize=7)
    return os.path.basename(figures.save_figure(figure, path, f"{setting}; values <= {floor:g} drawn at {floor:g}"))


def summary(results):
    lines = ["Correlation of gradients at neighbouring points (lag 1), fitted decay with depth:"]
    for kind in KINDS:
        entry = results["kinds"][kind]
        fit = entry["fit"]
        depths = sorted(entry["depths"], key=int)
        first, last = entry["depths"][depths[0]], entry["depths"][depths[-1]]
        line = (f"  {KIND_LABELS[kind]:>12}: depth {depths[0]} {first['lag1_mean']:.3f}, "
                f"depth {depths[-1]} {last['lag1_mean']:.3f}")
        if fit["exponential"]:
            line += (f"; exponential fit {fit['exponential']['rate_per_layer']:.3f}^L (paper 0.5^L for ff), "
                     f"power fit L^{fit['power']['exponent']:.3f} (paper L^-0.5 for resnets+BN); "
                     f"better fit: {fit['better']} (depths {fit['depths_fitted'][0]}-{fit['depths_fitted'][-1]})")
        lines.append(line)
    return "\n".join(lines)
