"""Degradation (He et al. 2015, Fig. 1 and Fig. 6): a deeper plain net trains worse than a shallower one, while
with identity shortcuts the deeper net trains better.

Reads (or trains, with one recipe for all) the runs of the listed plain nets and ResNets and draws Fig. 6:
training error dashed, test error solid, per epoch; plain nets in one panel, ResNets in the other.
"""

import dataclasses
import os

from keras_resnets.studies import curves, figures
from keras_resnets.studies.runs import Recipe

# He et al. 2015, Table 6 (CIFAR-10 test error %, 64k iterations). The plain nets are only plotted (Fig. 6).
PAPER_TEST_ERROR = {"resnet20": 8.75, "resnet32": 7.51, "resnet44": 7.17, "resnet56": 6.97, "resnet110": 6.43}
FAMILIES = (("plain", "Plain networks"), ("resnet", "ResNets"))


@dataclasses.dataclass
class Options(Recipe):
    models: tuple[str, ...] = dataclasses.field(
        default=("plain20", "plain56", "resnet20", "resnet56"),
        metadata={"help": "Nets to compare: plain<depth> and resnet<depth>, depth in 20, 32, 44, 56, 110."},
    )

    def validate(self):
        self.validate_recipe()
        for name in self.models:
            curves.cifar_depth(name)


def _depth_order(names):
    return sorted(names, key=curves.cifar_depth)


def _trend(finals, family):
    """(shallowest, deepest, deepest train error - shallowest's) of a family, or None with fewer than 2 depths."""
    names = _depth_order(name for name in finals if name.startswith(family))
    if len(names) < 2:
        return None
    shallow, deep = names[0], names[-1]
    return shallow, deep, finals[deep]["train_error"] - finals[shallow]["train_error"]


def run(options, output_dir):
    nets = [(name, name, {}, curves.cifar_depth(name)) for name in _depth_order(dict.fromkeys(options.models))]
    runs_curves, status = curves.obtain_curves(options, nets)
    finals = curves.final_errors(runs_curves)
    colors = curves.palette(runs_curves)

    families = [(key, title) for key, title in FAMILIES if any(name.startswith(key) for name in runs_curves)]
    figure, axes = figures.new_figure(1, len(families), width=5.5, height=4.2)
    for axis, (key, title) in zip(axes[0], families):
        curves.draw(axis, {name: c for name, c in runs_curves.items() if name.startswith(key)}, title, colors)
    setting = (f"CIFAR-10 (JPEG copy) training runs: {options.describe()}; dashed: training error, solid: test "
               f"error{curves.status_note(status)}")
    figures.save_figure(figure, os.path.join(output_dir, "degradation.png"), setting)

    trends = {family: _trend(finals, family) for family, _ in FAMILIES}
    rows = [
        [name, finals[name]["epochs"], curves.percent(finals[name]["train_error"]),
         curves.percent(finals[name]["test_error"]), curves.percent(PAPER_TEST_ERROR.get(name))]
        for name in runs_curves
    ]
    text = curves.table(["net", "epochs", "train error %", "test error %", "paper test error % (64k it.)"], rows)
    lines = [f"Degradation ({options.describe()}):", text]
    for family, trend in trends.items():
        if trend:
            shallow, deep, change = trend
            lines.append(f"{family}: {deep} ends with {change:+.2f} points of training error against {shallow}.")
    lines.append("Paper: plain nets are only plotted (He et al. 2015, Fig. 6: plain-56 above plain-20).")
    if curves.status_note(status):
        lines.append(curves.status_note(status).lstrip("; "))
    results = {
        "curves": runs_curves,
        "final": finals,
        "run_status": status,
        "paper_test_error": PAPER_TEST_ERROR,
        "deeper_minus_shallower_train_error": {
            family: {"shallow": t[0], "deep": t[1], "points": t[2]} for family, t in trends.items() if t
        },
        "figure": "degradation.png",
    }
    return results, "\n".join(lines)
