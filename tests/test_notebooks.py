"""The notebooks as a course: one shape for each, one path through them, one address for Colab.

nbval re-executes them (the README's test command); this checks what a reader meets
before running anything.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = re.search(r'^Repository = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
WIDGET_OUTPUT = "application/vnd.jupyter.widget-view+json"


def cells(path: Path) -> list[dict]:
    return [{**cell, "source": "".join(cell["source"])} for cell in json.loads(path.read_text())["cells"]]


def test_there_are_nine_notebooks_in_order():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{n:02d}" for n in range(9)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_colab_badge_and_the_install_cell_name_the_repository_in_pyproject(path):
    badge = f"https://colab.research.google.com/github/{REPOSITORY.removeprefix('https://github.com/')}" \
            f"/blob/main/notebooks/{path.name}"
    first = cells(path)[0]["source"]
    assert first.startswith("# ") and f"]({badge})" in first, f"{path.name}, cell 0: the badge must link to {badge}"
    install = [c for c in cells(path) if c["cell_type"] == "code" and "google.colab" in c["source"]]
    assert len(install) == 1, f"{path.name}: one install cell"
    urls = re.findall(r'COURSE_URL = "([^"]+)"', install[0]["source"])
    assert urls == [REPOSITORY], f"{path.name}: the install cell's COURSE_URL must be {REPOSITORY}"
    assert "raise SystemExit" in install[0]["source"]  # a failed clone says so, and stops


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_opens_with_objectives_and_ends_with_summary_exercises_and_the_next_one(path):
    markdown = [c["source"] for c in cells(path) if c["cell_type"] == "markdown"]
    assert any("**You will:**" in text for text in markdown[:3]), f"{path.name}: objectives at the top"
    assert any("## Summary" in text for text in markdown), f"{path.name}: a Summary"
    exercises = next((t for t in markdown if "## Exercises" in t), "")
    assert 2 <= len(re.findall(r"^\d+\. ", exercises, re.M)) <= 5, f"{path.name}: 2-5 exercises"
    assert "glossary.md" in "".join(markdown), f"{path.name}: links the glossary"
    index = NOTEBOOKS.index(path)
    following = NOTEBOOKS[(index + 1) % len(NOTEBOOKS)].name
    assert f"]({following})" in markdown[-1], f"{path.name}: the last cell links {following}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_progress_bars_or_widget_state_are_committed(path):
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook["metadata"], f"{path.name}: widget state in the metadata"
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            assert not re.search(r"\d+%\|", text), f"{path.name}, cell {index}: a progress bar in the output"
            if WIDGET_OUTPUT in output.get("data", {}):
                source = "".join(cell["source"])
                assert "review_widget(" in source or "upload_widget(" in source, \
                    f"{path.name}, cell {index}: a widget output (only the course's interactive widgets may have one)"


def test_the_course_renders_only_the_splits_a_notebook_asks_for_and_they_equal_a_whole_set(tmp_path, monkeypatch):
    import importlib

    from captcha_lib import generate_dataset
    from captcha_lib.course import ensure_dataset

    workspace_module = importlib.import_module("captcha_lib.course.workspace")  # the module, not the function

    monkeypatch.setattr(workspace_module, "FAST_TRAIN_SIZE", 60)  # the fast set's shape, smaller
    monkeypatch.setattr(workspace_module, "FAST_VAL_SIZE", 20)
    parts = ensure_dataset(tmp_path / "parts", small=True, splits=("val", "test"))
    assert not (parts / "train").exists()  # a reading notebook renders no training images
    ensure_dataset(parts, small=True)  # 03 later asks for all three: only train is added
    whole = tmp_path / "whole"
    generate_dataset(whole, n_train=60, n_val=20, n_test=20, seed=0, workers=1)
    for split in ("train", "val", "test"):
        names = sorted(p.name for p in (parts / split).iterdir())
        assert names == sorted(p.name for p in (whole / split).iterdir()), split
    first = sorted((parts / "test").iterdir())[0]
    assert first.read_bytes() == (whole / "test" / first.name).read_bytes()


def test_before_notebook_03_has_run_the_later_ones_get_the_shipped_course_model(tmp_path, monkeypatch):
    import torch

    from captcha_lib import DEFAULT_ALPHABET, Reader, generate_dataset, list_images, label_from_path
    from captcha_lib.course import ensure_trained
    from captcha_lib.course.workspace import COURSE_CHECKPOINT

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAPTCHA_FAST", raising=False)
    checkpoint = ensure_trained()
    assert checkpoint == Path("runs/course/crnn/model.pt") and checkpoint.read_bytes() == COURSE_CHECKPOINT.read_bytes()
    assert COURSE_CHECKPOINT.stat().st_size < 2_000_000
    assert torch.load(checkpoint, weights_only=True)["vocabulary"]["characters"] == DEFAULT_ALPHABET
    generate_dataset(tmp_path / "fresh", n_train=0, n_val=200, seed=99, workers=1)  # images it never saw
    paths = list_images(tmp_path / "fresh" / "val")
    reads = Reader.from_checkpoint(checkpoint).predict(paths)
    accuracy = sum(r == label_from_path(p) for r, p in zip(reads, paths)) / len(paths)
    assert accuracy >= 0.9, accuracy  # notebook 03's recipe reads about 97% of the default style
