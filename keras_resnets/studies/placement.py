"""Where BatchNorm and ReLU sit in a residual unit (He et al. 2016, Fig. 4 and Table 2): placements (a)-(e) of
the same CIFAR ResNet, trained with one recipe, beside the paper's ResNet-110 test errors.

Placement (a) is the registered resnet<depth> itself, so its run is shared with the degradation study.
"""

import dataclasses
import os

from keras_resnets.layers.residual import PLACEMENTS
from keras_resnets.studies import curves, figures
from keras_resnets.studies.common import StudyError
from keras_resnets.studies.runs import Recipe

# He et al. 2016, Table 2: ResNet-110 on CIFAR-10, test error % (median of 5 runs, 64k iterations).
PAPER_TEST_ERROR_110 = {"a": 6.61, "b": 8.17, "c": 7.84, "d": 6.71, "e": 6.37}


@dataclasses.dataclass
class Options(Recipe):
    depth: int = dataclasses.field(
        default=20, metadata={"help": "Depth of the CIFAR ResNet (20, 32, 44, 56, 110; the paper: 110)."}
    )
    placements: tuple[str, ...] = dataclasses.field(
        default=("a", "b", "c", "d", "e"), metadata={"help": "Unit placements of He et al. 2016, Fig. 4."}
    )
    early_epochs: int = dataclasses.field(
        default=3, metadata={"help": "Epochs shown in the panel of the start of training."}
    )

    def validate(self):
        self.validate_recipe()
        curves.cifar_depth(f"resnet{self.depth}")
        unknown = [p for p in self.placements if p not in PLACEMENTS]
        if unknown or not self.placements:
            allowed = "; ".join(f"{key}: {text}" for key, text in PLACEMENTS.items())
            raise StudyError(f"--placements must be a non-empty list of {allowed}; got {list(self.placements)}.")
        if self.early_epochs < 1:
            raise StudyError(f"--early_epochs must be >= 1, got {self.early_epochs}.")


def run_label(depth, placement):
    """(a) is the registered net; the others carry their placement: resnet20_b."""
    return f"resnet{depth}" if placement == "a" else f"resnet{depth}_{placement}"


def run(options, output_dir):
    placements = sorted(dict.fromkeys(options.placements))
    model = f"resnet{options.depth}"
    labels = {p: run_label(options.depth, p) for p in placements}
    nets = [(labels[p], model, {} if p == "a" else {"placement": p}, options.depth) for p in placements]
    runs_curves, status = curves.obtain_curves(options, nets)
    finals = curves.final_errors(runs_curves)
    placements = [p for p in placements if labels[p] in runs_curves]
    named = {f"({p}) {labels[p]}": runs_curves[labels[p]] for p in placements}
    colors = curves.palette(named)

    figure, axes = figures.new_figure(1, 2, width=5.5, height=4.2)
    curves.draw(axes[0, 0], named, f"ResNet-{options.depth}, unit placements (a)-(e)", colors)
    curves.draw(axes[0, 1], named, f"training error, the first {options.early_epochs} epochs", colors,
                last_epoch=options.early_epochs, test=False)
    setting = (f"CIFAR-10 (JPEG copy): {options.describe()}; dashed: training error, solid: test error; "
               f"the training app records one point per epoch{curves.status_note(status)}")
    figures.save_figure(figure, os.path.join(output_dir, "placement.png"), setting)

    rows = [
        [f"({p}) {PLACEMENTS[p]}", labels[p], finals[labels[p]]["epochs"],
         curves.percent(runs_curves[labels[p]]["train_error"][0]),
         curves.percent(finals[labels[p]]["train_error"]), curves.percent(finals[labels[p]]["test_error"]),
         curves.percent(PAPER_TEST_ERROR_110[p])]
        for p in placements
    ]
    headers = ["unit", "run", "epochs", "train error % after epoch 1", "final train error %", "final test error %",
               "paper, ResNet-110, 64k it. %"]
    lines = [f"Unit placements at depth {options.depth} ({options.describe()}):", curves.table(headers, rows)]
    if curves.status_note(status):
        lines.append(curves.status_note(status).lstrip("; "))
    results = {
        "depth": options.depth,
        "runs": labels,
        "curves": runs_curves,
        "final": finals,
        "run_status": status,
        "paper_test_error_resnet110": PAPER_TEST_ERROR_110,
        "figure": "placement.png",
    }
    return results, "\n".join(lines)
