"""Diagrams notebook 02 draws from the real thing, never by hand.

* `plot_architecture(model)`: every stage of a model as a box, with the shape it really
  outputs for one image (forward hooks), the skip connection and the training-only head.
* `plot_ctc_trellis(probs, label, vocabulary)`: CTC's lattice for one label. Rows are the
  label with blanks between and around its characters (`_A_B_`), columns are timesteps;
  an edge is a move CTC allows (stay, next row, or jump a blank between two different
  characters). Every path from a start node to an end node spells the label, and the
  shading says how much of the label's probability passes through each node.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, Rectangle

from ..data.vocab import BLANK_INDEX, Vocabulary


def _stage_shapes(model: torch.nn.Module, image_size: tuple[int, int]) -> list[tuple[str, tuple]]:
    """(name, output shape of one image) for each stage of the CRNN, measured by hooks."""
    shapes, hooks = [], []
    stages = [(f"conv block {i + 1}", block) for i, block in enumerate(model.features)]
    stages += [("projection", model.projection), ("BiGRU", model.gru), ("classifier", model.output)]
    for name, module in stages:
        def hook(_module, _inputs, output, name=name):
            output = output[0] if isinstance(output, tuple) else output
            shapes.append((name, tuple(output.shape[1:])))
        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, *image_size, device=next(model.parameters()).device))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    return [("input image", (3, *image_size))] + shapes


def plot_architecture(model: torch.nn.Module, image_size: tuple[int, int] = (40, 160)):
    """The CRNN as boxes left to right, each labelled with its measured output shape.

    Feature maps (C, H, W) grow with H and W (time runs left to right); a sequence (T,
    features) is as wide as T, so the last conv block, the GRU and the classifier line up.
    Returns the figure."""
    shapes = _stage_shapes(model, image_size)
    fig, ax = plt.subplots(figsize=(12, 3.6))
    x, centres = 0.0, []
    for name, shape in shapes:
        if len(shape) == 3:  # (C, H, W): a feature map
            channels, height, width = shape
            box_w, box_h = 0.4 + 0.012 * width, 0.6 + 0.03 * height
            text = f"{channels} x {height} x {width}"
        else:  # (T, features): one vector per timestep
            steps, features = shape
            box_w, box_h = 0.4 + 0.012 * steps, 0.5 + 0.08 * np.log2(features)
            text = f"T = {steps} x {features}"
        colour = "#9ecae1" if len(shape) == 3 else "#fdd0a2" if name != "classifier" else "#c7e9c0"
        ax.add_patch(Rectangle((x, -box_h / 2), box_w, box_h, facecolor=colour, edgecolor="black", lw=0.8))
        ax.text(x + box_w / 2, box_h / 2 + 0.08, name, ha="center", va="bottom", fontsize=9)
        ax.text(x + box_w / 2, -box_h / 2 - 0.08, text, ha="center", va="top", fontsize=8, family="monospace")
        centres.append((x, x + box_w))
        x += box_w + 0.9
    for (_, right), (left, _) in zip(centres, centres[1:]):
        ax.annotate("", (left, 0), (right, 0), arrowprops={"arrowstyle": "->", "lw": 1})
    names = [name for name, _ in shapes]
    if getattr(model, "residual", False):  # the projection's output is added to the GRU's
        start, gru, end = (centres[names.index(n)] for n in ("projection", "BiGRU", "classifier"))
        junction = (gru[1] + end[0]) / 2
        ax.text(junction, 0, "+", ha="center", va="center", fontsize=10, color="#d62728",
                bbox={"boxstyle": "circle,pad=0.1", "facecolor": "white", "edgecolor": "#d62728"})
        ax.add_patch(FancyArrowPatch(((start[0] + start[1]) / 2, 0.75), (junction, 0.15), mutation_scale=12,
                                     connectionstyle="arc3,rad=-0.3", arrowstyle="-|>", color="#d62728", lw=1.2))
        ax.text((start[1] + gru[0]) / 2, 1.2, "skip connection", color="#d62728", ha="center", fontsize=8)
    if getattr(model, "coarse_output", None) is not None:
        gru = centres[names.index("BiGRU")]
        ax.annotate(f"coarse CTC head (training only):\n{model.coarse_factor} timesteps read as one",
                    ((gru[0] + gru[1]) / 2 + 0.6, -0.35), (gru[1] + 0.2, -1.25), fontsize=8, color="#6a51a3",
                    ha="left", arrowprops={"arrowstyle": "<-", "color": "#6a51a3"})
    ax.text(x - 0.4, 0, "CTC\nloss", ha="left", va="center", fontsize=9)
    ax.set(xlim=(-0.3, x + 0.6), ylim=(-1.6, 1.35), aspect="equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def ctc_lattice(probs: np.ndarray, label: list[int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Forward (alpha) and backward (beta) sums over CTC's lattice, in probabilities.

    The library's own forward pass is `decoding.decoders.text_log_probability` (log space,
    batched, final sum only); this one keeps every node of both passes, for drawing, and
    gives the same total (tested).

    `probs` (T, C) per-timestep class probabilities, `label` the class indices. Rows are the
    extended label: blank, label[0], blank, label[1], ..., blank (2L + 1 rows). Returns
    (alpha, beta), both (2L + 1, T), and the label's probability (the sum over all paths)."""
    extended = [BLANK_INDEX]
    for c in label:
        extended += [c, BLANK_INDEX]
    rows, steps = len(extended), len(probs)
    alpha, beta = np.zeros((rows, steps)), np.zeros((rows, steps))
    alpha[:2, 0] = [probs[0, extended[s]] for s in range(min(2, rows))]
    for t in range(1, steps):
        for s in range(rows):
            total = alpha[s, t - 1] + (alpha[s - 1, t - 1] if s else 0.0)
            if s > 1 and extended[s] != BLANK_INDEX and extended[s] != extended[s - 2]:
                total += alpha[s - 2, t - 1]  # jump the blank between two different characters
            alpha[s, t] = total * probs[t, extended[s]]
    beta[-2:, -1] = 1.0
    for t in range(steps - 2, -1, -1):
        for s in range(rows):
            total = beta[s, t + 1] * probs[t + 1, extended[s]]
            if s + 1 < rows:
                total += beta[s + 1, t + 1] * probs[t + 1, extended[s + 1]]
            if s + 2 < rows and extended[s + 2] != BLANK_INDEX and extended[s + 2] != extended[s]:
                total += beta[s + 2, t + 1] * probs[t + 1, extended[s + 2]]
            beta[s, t] = total
    return alpha, beta, float(alpha[-1, -1] + alpha[-2, -1])


def plot_ctc_trellis(probs, label: str, vocabulary: Vocabulary):
    """CTC's lattice for `label` over T = len(probs) timesteps, shaded by the share of the
    label's probability that passes through each node. Returns (figure, label probability)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(f"probs must be (T, classes) probabilities, each row summing to 1; got shape {probs.shape} "
                         f"(softmax the logits first)")
    if not label:
        raise ValueError("the lattice of an empty label is a single row of blanks; give at least one character")
    classes = vocabulary.encode(label)
    alpha, beta, total = ctc_lattice(probs, classes)
    if total == 0:
        raise ValueError(f"{label!r} cannot be spelled in {len(probs)} timesteps (it needs "
                         f"{len(label) + sum(a == b for a, b in zip(label, label[1:]))})")
    symbols = ["_"] + [s for c in label for s in (c, "_")]
    extended = [BLANK_INDEX] + [k for c in classes for k in (c, BLANK_INDEX)]
    rows, steps = alpha.shape
    share = alpha * beta / total  # alpha includes probs[t] at the node, beta does not: a path's weight once
    on_a_path = share > 0
    fig, ax = plt.subplots(figsize=(1.3 * steps + 1.5, 0.55 * rows + 1.2))
    for t in range(steps - 1):
        for s in range(rows):
            moves = [s, s + 1] + ([s + 2] if s + 2 < rows and extended[s + 2] != BLANK_INDEX
                                  and extended[s + 2] != extended[s] else [])
            for target in moves:
                if target < rows and on_a_path[s, t] and on_a_path[target, t + 1]:
                    ax.plot([t, t + 1], [s, target], color="gray", lw=0.8, zorder=1)
    ys, xs = np.nonzero(on_a_path)
    ax.scatter(xs, ys, s=380, c=share[ys, xs], cmap="Blues", vmin=0, vmax=1, edgecolors="black", zorder=2)
    for s, t in zip(ys, xs):
        ax.text(t, s, f"{share[s, t]:.2f}", ha="center", va="center", fontsize=7,
                color="white" if share[s, t] > 0.6 else "black", zorder=3)
    ax.set(xticks=range(steps), xticklabels=[f"t={t}" for t in range(steps)], yticks=range(rows),
           yticklabels=symbols, xlim=(-0.5, steps - 0.5), ylim=(rows - 0.5, -0.5))
    ax.set_title(f"CTC lattice of {label!r}: every left-to-right path spells it; p({label!r}) = {total:.4f}",
                 fontsize=10)
    ax.set_ylabel("extended label (_ = blank)")
    fig.tight_layout()
    return fig, total
