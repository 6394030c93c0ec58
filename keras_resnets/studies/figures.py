"""Figures of the studies: matplotlib without a display, one call to save, the setting written on every figure."""

import matplotlib

matplotlib.use("Agg")  # files only: studies run on machines without a screen

import matplotlib.pyplot as plt  # noqa: E402


def new_figure(rows=1, columns=1, *, width=5.0, height=4.0, **kwargs):
    """(figure, axes) with one `width` x `height` inch panel per cell; axes is always a 2-D array."""
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False, **kwargs)
    return figure, axes


def save_figure(figure, path, setting):
    """Saves `figure` as a PNG with `setting` (what made it: depth, epochs, repetitions, seed) written under it."""
    figure.text(0.5, 0.005, setting, ha="center", va="bottom", fontsize=7, color="0.35", wrap=True)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
