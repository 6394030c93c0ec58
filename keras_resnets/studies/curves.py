"""Training curves of several runs (error per epoch, training dashed and test solid) and their final table."""

import re

import matplotlib
import matplotlib.ticker

from keras_resnets.studies import runs
from keras_resnets.studies.common import StudyError

CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def cifar_depth(name):
    """The depth of a registered CIFAR ResNet or plain net name (resnet56 -> 56); other names are an error."""
    match = re.fullmatch(r"(resnet|plain)(\d+)", name)
    if not match or int(match[2]) not in CIFAR_DEPTHS:
        allowed = ", ".join(f"{family}{depth}" for family in ("plain", "resnet") for depth in CIFAR_DEPTHS)
        raise StudyError(f"Unknown net {name!r}; allowed: {allowed}.")
    return int(match[2])


def obtain_curves(recipe, nets):
    """({label: per-epoch curves}, {label: "finished", "unfinished" or "missing"}) of nets [(label, registered
    model, builder overrides, depth)], each read from its run directory or trained with `recipe` first."""
    found, status = {}, {}
    for label, model, overrides, depth in nets:
        run_dir = runs.obtain(recipe, label, model, overrides, depth)
        status[label] = "missing" if run_dir is None else "finished" if runs.is_finished(run_dir) else "unfinished"
        if run_dir is not None:
            found[label] = runs.read_curves(run_dir)
    if not found:
        raise StudyError(f"None of the runs {', '.join(status)} in {recipe.runs_dir!r} has logged an epoch yet.")
    return found, status


def status_note(status):
    """A line for figures and summaries naming the runs that are not finished, or '' when all are."""
    open_runs = [f"{label} {state}" for label, state in status.items() if state != "finished"]
    return "; not finished (drawn as logged so far): " + ", ".join(open_runs) if open_runs else ""


def draw(axis, curves, title, colors, last_epoch=None, test=True):
    """Training error dashed and (with `test`) test error solid, one color per run, on `axis`."""
    for label, curve in curves.items():
        epochs = [epoch for epoch in curve["epoch"] if last_epoch is None or epoch <= last_epoch]
        count = len(epochs)
        color = colors[label]
        axis.plot(epochs, curve["train_error"][:count], "--", color=color, marker=".", label=f"{label} train")
        if test:
            axis.plot(epochs, curve["test_error"][:count], "-", color=color, marker=".", label=f"{label} test")
    axis.set_title(title)
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axis.set_ylabel("error (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)


def palette(labels):
    colors = matplotlib.colormaps["tab10"].colors
    return {label: colors[index % len(colors)] for index, label in enumerate(labels)}


def final_errors(curves):
    """{label: {"epochs", "train_error", "test_error"}} at each run's last epoch."""
    return {
        label: {key: curve[name][-1] for key, name in
                (("epochs", "epoch"), ("train_error", "train_error"), ("test_error", "test_error"))}
        for label, curve in curves.items()
    }


def table(headers, rows):
    """A Markdown table (the summary prints it; the README can show it as it is)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percent(value):
    return "—" if value is None else f"{value:.2f}"
