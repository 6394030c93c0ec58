"""Lesion study (Veit et al. 2016, Sec. 4): residual networks behave like ensembles of relatively shallow paths.

At test time, on a trained ResNet and a trained plain net of the same depth:
 (i)   delete each single unit (the unit becomes its shortcut; in the plain net the parameter-free identity of
       option A takes its place, subsampling and zero-padding where the unit changes the shape);
 (ii)  delete k random units of the ResNet, k = 1 ... n, several draws per k;
 (iii) swap k random pairs of ResNet units that map between the same shapes.
The lesioned models share the trained layers (keras_resnets.studies.surgery); nothing is retrained.
"""

import dataclasses
import os

import matplotlib.ticker
import numpy as np

from keras_resnets.studies import evaluation, figures, runs, surgery
from keras_resnets.studies.common import StudyError, progress


@dataclasses.dataclass
class Options(runs.TrainedResNet):
    plain: str = dataclasses.field(default="plain56", metadata={"help": "Run of the trained plain net."})
    test_images: int = dataclasses.field(default=500, metadata={"help": "Test images each error is measured on."})
    draws: int = dataclasses.field(default=2, metadata={"help": "Random draws per k (deletions, swaps)."})
    max_k: int = dataclasses.field(
        default=0, metadata={"help": "Largest number k of units deleted (or pairs swapped) at once; 0: all of them."}
    )

    def validate(self):
        if self.test_images < 1 or self.draws < 1 or self.max_k < 0:
            raise StudyError(f"--test_images and --draws must be >= 1 and --max_k >= 0, got {self.test_images}, "
                             f"{self.draws} and {self.max_k}.")


def check_shortcuts(units, run_dir, has_shortcuts):
    """The ResNet's units must all have shortcuts and the plain net's none."""
    kind, flag = ("a ResNet", "--resnet") if has_shortcuts else ("a plain net", "--plain")
    if any((unit.layer.shortcut_layers is not None) != has_shortcuts for unit in units):
        raise StudyError(f"The run in {run_dir!r} is not {kind} (units with{'out' if has_shortcuts else ''} "
                         f"shortcuts); {flag} must name {kind} run.")


def swap_groups(units):
    """Names of the units that may swap places, grouped by the shapes they map between (shape-keeping units)."""
    groups = {}
    for unit in units:
        if not unit.downsamples:
            groups.setdefault(unit.input_shape, []).append(unit.name)
    return [names for names in groups.values() if len(names) >= 2]


def random_pairs(groups, count, rng):
    """`count` disjoint random pairs, each from one group."""
    pools = [list(rng.permutation(names)) for names in groups]
    pairs = []
    for _ in range(count):
        open_pools = [pool for pool in pools if len(pool) >= 2]
        pool = open_pools[rng.integers(len(open_pools))]
        pairs.append((str(pool.pop()), str(pool.pop())))
    return pairs


class Lesions:
    """Measures a trained model's test error with units deleted or swapped."""

    def __init__(self, run_dir, has_shortcuts):
        self.model = runs.load_model(run_dir)
        self.units = surgery.residual_units(self.model, f"model in {run_dir!r}")
        check_shortcuts(self.units, run_dir, has_shortcuts)

    def measure_on(self, images, labels):
        self.images, self.labels = images, labels
        self.intact = evaluation.error_rate(self.model, images, labels)

    def deleted(self, names):
        return evaluation.error_rate(surgery.delete_units(self.model, names), self.images, self.labels)

    def swapped(self, pairs):
        return evaluation.error_rate(surgery.swap_units(self.model, pairs), self.images, self.labels)


def _draw_errors(measure, ks, draws, sample, bar):
    errors = []
    for k in ks:
        errors.append([measure(sample(k)) for _ in range(draws)])
        bar.add(1)
    return errors


def run(options, output_dir):
    resnet_dir = os.path.join(options.runs_dir, options.resnet)
    plain_dir = os.path.join(options.runs_dir, options.plain)
    resnet = Lesions(resnet_dir, has_shortcuts=True)
    names = [unit.name for unit in resnet.units]
    if options.max_k > len(names):
        raise StudyError(f"--max_k={options.max_k} is larger than the {len(names)} residual units of {resnet_dir!r}; "
                         f"allowed: 1 to {len(names)}, or 0 for all.")
    plain = Lesions(plain_dir, has_shortcuts=False)
    data = evaluation.test_images(resnet_dir, options.test_images, options.dataset)
    resnet.measure_on(*data)
    plain.measure_on(*data)
    rng = np.random.default_rng(options.seed)
    groups = swap_groups(resnet.units)
    largest = options.max_k or len(names)
    ks = list(range(1, largest + 1))
    pair_counts = list(range(1, min(largest, sum(len(group) // 2 for group in groups)) + 1))

    bar = progress(len(names) + len(plain.units) + len(ks) + len(pair_counts), "Lesions (one step per measurement set)")
    single = {}
    for key, net in (("resnet", resnet), ("plain", plain)):
        single[key] = []
        for unit in net.units:
            single[key].append({"unit": unit.name, "downsamples": unit.downsamples, "error": net.deleted([unit.name])})
            bar.add(1)
    random_deletions = _draw_errors(
        resnet.deleted, ks, options.draws, lambda k: [str(name) for name in rng.choice(names, k, replace=False)], bar
    )
    swaps = _draw_errors(resnet.swapped, pair_counts, options.draws, lambda k: random_pairs(groups, k, rng), bar)

    results = {
        "resnet_run": resnet_dir,
        "plain_run": plain_dir,
        "test_images": len(resnet.labels),
        "intact_error": {"resnet": resnet.intact, "plain": plain.intact},
        "single_deletion": single,
        "random_deletions": {"k": ks, "errors": random_deletions},
        "swaps": {"pairs": pair_counts, "errors": swaps},
        "figure": "lesion.png",
    }
    results["costs"] = _costs(results)
    _figure(results, _setting(options, resnet_dir, plain_dir), os.path.join(output_dir, "lesion.png"))
    return results, _summary(results)


def _costs(results):
    """Error added by deleting one unit (points): median and max over shape-keeping units, and downsampling ones."""
    costs = {}
    for key, rows in results["single_deletion"].items():
        intact = results["intact_error"][key]
        keeping = [row["error"] - intact for row in rows if not row["downsamples"]]
        downsampling = [row["error"] - intact for row in rows if row["downsamples"]]
        costs[key] = {
            "median_shape_keeping": float(np.median(keeping)) if keeping else None,
            "max_shape_keeping": max(keeping) if keeping else None,
            "min_shape_keeping": min(keeping) if keeping else None,
            "downsampling": downsampling,
        }
    return costs


def _setting(options, resnet_dir, plain_dir):
    return (f"trained runs {runs.describe_run(resnet_dir)} and {runs.describe_run(plain_dir)}; {options.test_images} "
            f"test images; {options.draws} draws per k; seed {options.seed}; units deleted or swapped at test time, "
            "nothing retrained")


def _figure(results, setting, path):
    figure, axes = figures.new_figure(1, 3, width=5.0, height=4.0)
    single = results["single_deletion"]
    axis = axes[0, 0]
    for key, color in (("resnet", "tab:blue"), ("plain", "tab:red")):
        rows = single[key]
        positions = np.arange(1, len(rows) + 1)
        axis.plot(positions, [row["error"] for row in rows], ".-", color=color, label=f"{key}: one unit deleted")
        marked = [i for i, row in enumerate(rows) if row["downsamples"]]
        axis.plot(positions[marked], [rows[i]["error"] for i in marked], "s", mfc="none", color=color, ms=9,
                  label=f"{key}: downsampling unit" if marked else None)
        axis.axhline(results["intact_error"][key], color=color, ls=":", lw=1, label=f"{key}: intact")
    axis.set(title="(i) deleting one unit", xlabel="deleted unit (in data-flow order)", ylabel="test error (%)",
             ylim=(0, 100))
    for axis, key, title, xlabel in (
        (axes[0, 1], "random_deletions", "(ii) deleting k random units (ResNet)", "units deleted k"),
        (axes[0, 2], "swaps", "(iii) swapping k random pairs (ResNet)", "pairs of same-shape units swapped k"),
    ):
        ks, errors = results[key]["k" if key == "random_deletions" else "pairs"], np.array(results[key]["errors"])
        if not ks:
            axis.set_title(f"{title}: no two units of the same shape")
            continue
        for draw in errors.T:
            axis.plot(ks, draw, ".", color="tab:blue", alpha=0.4)
        axis.plot(ks, errors.mean(axis=1), "-", color="tab:blue", label="mean over draws")
        axis.axhline(results["intact_error"]["resnet"], color="tab:blue", ls=":", lw=1, label="intact")
        axis.set(title=title, xlabel=xlabel, ylabel="test error (%)", ylim=(0, 100))
    for axis in axes[0]:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    figures.save_figure(figure, path, setting)


def _summary(results):
    costs, intact = results["costs"], results["intact_error"]
    lines = [f"Lesion on {results['test_images']} test images: intact error ResNet {intact['resnet']:.1f}%, "
             f"plain {intact['plain']:.1f}%."]
    for key in ("resnet", "plain"):
        cost = costs[key]
        if cost["median_shape_keeping"] is not None:
            lines.append(
                f"{key}: deleting one shape-keeping unit adds {cost['median_shape_keeping']:+.1f} points (median; "
                f"{cost['min_shape_keeping']:+.1f} to {cost['max_shape_keeping']:+.1f}); downsampling units: "
                + ", ".join(f"{value:+.1f}" for value in cost["downsampling"])
            )
    means = np.mean(results["random_deletions"]["errors"], axis=1)
    lines.append("ResNet, k random units deleted, mean error: "
                 + ", ".join(f"k={k}: {m:.1f}%" for k, m in zip(results["random_deletions"]["k"], means)))
    swaps = np.mean(results["swaps"]["errors"], axis=1) if results["swaps"]["errors"] else []
    lines.append("ResNet, k pairs swapped, mean error: "
                 + ", ".join(f"k={k}: {m:.1f}%" for k, m in zip(results["swaps"]["pairs"], swaps)))
    return "\n".join(lines)
