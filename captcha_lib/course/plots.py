"""The figures the notebooks draw more than once."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..data.images import load_image


def show_images(images: Sequence, titles: Sequence[str] = (), colors: Sequence[str] = (), ncols: int = 4,
                width: float = 2.6, suptitle: str | None = None):
    """A grid of images (paths, PIL images or arrays) with optional coloured titles."""
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, width * 0.45 * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(load_image(image))
        if i < len(titles):
            ax.set_title(titles[i], fontsize=10, color=colors[i] if i < len(colors) else "black", family="monospace")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history: list[dict], title: str = ""):
    """Loss curves and validation accuracy / CER, per epoch."""
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.2))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in history], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="CTC loss", title=f"{title} loss".strip())
    ax_loss.legend()
    ax_acc.plot(epochs, [r["val_sequence_accuracy"] for r in history], "o-", label="sequence accuracy")
    ax_acc.plot(epochs, [r["val_cer"] for r in history], "o-", label="CER")
    ax_acc.set(xlabel="epoch", ylim=(-0.02, 1.02), title=f"{title} validation".strip())
    ax_acc.legend()
    fig.tight_layout()
    return fig


def plot_timestep_probabilities(image, probabilities: np.ndarray, characters: str, title: str = ""):
    """The image above a (classes x timesteps) heat map: where each character fires.

    `probabilities`: (T, C) softmax of one image's logits; row 0 of the map is the blank.
    """
    fig, (ax_image, ax_probs) = plt.subplots(2, 1, figsize=(9, 6.5), gridspec_kw={"height_ratios": [1, 2.6]})
    ax_image.imshow(load_image(image))
    ax_image.set_title(title)
    ax_image.axis("off")
    classes = ["_"] + list(characters)
    used = [c for c in range(len(classes)) if probabilities[:, c].max() > 0.05] or list(range(len(classes)))
    ax_probs.imshow(probabilities[:, used].T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax_probs.set_yticks(range(len(used)), [classes[c] for c in used], family="monospace")
    ax_probs.set(xlabel="timestep (left to right across the image)", ylabel="class (_ = blank)")
    best = probabilities.argmax(axis=1)
    for t, c in enumerate(best):
        ax_probs.text(t, -0.9, classes[c], ha="center", va="bottom", family="monospace", fontsize=9, clip_on=False)
    fig.tight_layout()
    return fig


def plot_reliability(curves: dict[str, list[dict]], title: str = "Reliability"):
    """Accuracy against mean confidence per bin (`decoding.calibration.reliability`), one line
    per curve; the diagonal is perfect calibration, and a line under it is over-confident."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    for name, bins in curves.items():
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label=name)
        for b in bins:
            ax.annotate(str(b["count"]), (b["confidence"], b["accuracy"]), fontsize=7, xytext=(3, -9),
                        textcoords="offset points")
    ax.set(xlabel="mean confidence in the bin", ylabel="share of reads right", xlim=(0, 1.02), ylim=(0, 1.02),
           title=title)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_few_shot(curves: dict[str, dict[int, float]], baselines: dict[str, float] = {}, title: str = ""):
    """Validation accuracy against the number of labelled images, one line per method."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for name, points in curves.items():
        sizes = sorted(points)  # in order along the axis, however the points were added
        ax.plot(sizes, [points[n] for n in sizes], "o-", label=name)
    for (name, value), style in zip(baselines.items(), (":", "--", "-.")):
        ax.axhline(value, linestyle=style, color="grey", label=name)
    ax.set(xscale="log", xlabel="labelled images", ylabel="val sequence accuracy", ylim=(-0.02, 1.02), title=title)
    ax.set_xticks(sorted({n for points in curves.values() for n in points}))
    ax.get_xaxis().set_major_formatter(plt.ScalarFormatter())
    ax.get_xaxis().set_minor_formatter(plt.NullFormatter())  # only the sizes measured are labelled
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: no curve hidden
    fig.tight_layout()
    return fig
