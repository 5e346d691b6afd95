"""The labelling loop in a notebook: the least confident reads, each with an editable box.

    from captcha_lib.course.review import review_widget
    review_widget("labelled/review.tsv", "labelled/labels.tsv")   # in JupyterLab or Colab

`label` (deploy/labelling.py) writes the confident reads to labels.tsv and the rest to
review.tsv, least confident first. The widget shows the first of those: correct a box (or
leave it empty to skip that image) and press Save; the corrected lines join labels.tsv,
which `train --labels` or `--extra-labels` then reads. `add_labels` does the saving, so a
script can do the same without widgets.
"""

from __future__ import annotations

from pathlib import Path

from ..data.labels import Labeller
from ..errors import DataError
from ..files import write_text


def read_review(review_tsv: str | Path) -> list[tuple[Path, str, float]]:
    """(image path, the model's read, its confidence) per line of a review list, least confident first."""
    review_tsv = Path(review_tsv)
    rows = []
    for number, line in enumerate(review_tsv.read_text(encoding="utf-8").splitlines()[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(f"{review_tsv} line {number}: expected path<TAB>read<TAB>confidence")
        rows.append((review_tsv.parent / fields[0], fields[1], float(fields[2])))
    return rows


def add_labels(labels_tsv: str | Path, texts: dict[str | Path, str]) -> int:
    """Add (or correct) `{image path: text}` in a labels file, atomically; returns the lines written.
    Empty texts are skipped; a text with a tab, a newline or surrounding spaces is refused."""
    labels_tsv = Path(labels_tsv)
    existing = {}
    if labels_tsv.is_file() and labels_tsv.read_text(encoding="utf-8").strip():
        labeller = Labeller(labels_tsv)
        existing = {path: labeller(path) for path in labeller.paths()}
    for path, text in texts.items():
        if not text:
            continue
        if text != text.strip() or any(c in text for c in "\t\r\n"):
            raise DataError(f"label {text!r} for {path}: no tabs, line breaks or surrounding spaces")
        existing[Path(path).resolve()] = text
    base = labels_tsv.parent.resolve()
    lines = [f"{_relative(path, base)}\t{text}\n" for path, text in existing.items()]
    write_text(labels_tsv, "".join(lines))
    return len(lines)


def _relative(path: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(path, base)).as_posix()


def review_widget(review_tsv: str | Path, labels_tsv: str | Path, count: int = 12, columns: int = 3):
    """An ipywidgets grid of the `count` least confident reads, editable, with a Save button."""
    import ipywidgets as widgets

    rows = read_review(review_tsv)[:count]
    boxes = []
    cells = []
    for path, read, confidence in rows:
        box = widgets.Text(value=read, placeholder="the text (empty: skip)", layout=widgets.Layout(width="180px"))
        boxes.append((path, box))
        cells.append(widgets.VBox([widgets.Image(value=path.read_bytes(), width=180),
                                   widgets.HTML(f"<small>{path.name}: read {read!r}, confidence {confidence:.3f}</small>"),
                                   box]))
    status = widgets.HTML(f"{len(rows)} least confident of {len(read_review(review_tsv))} reads to check")
    save = widgets.Button(description="Save to labels", button_style="primary")

    def on_save(_):
        written = add_labels(labels_tsv, {path: box.value.strip() for path, box in boxes})
        status.value = f"saved: {labels_tsv} now holds {written} labels"

    save.on_click(on_save)
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns=f"repeat({columns}, 200px)"))
    return widgets.VBox([status, grid, save])
