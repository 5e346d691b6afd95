"""The pretrained reader the package ships: safe to load, small, and as good as the README says."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from captcha_lib import Reader, render
from captcha_lib.defaults import GENERAL_ALPHABET
from captcha_lib.training.pretrain import PRETRAINED_PATH, style_accuracies

README = Path(__file__).resolve().parent.parent / "README.md"


def stated_accuracies() -> dict[str, tuple[float, float]]:
    """The README's table of the shipped reader: | `style` | as read | with its alphabet |."""
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+)% \| ([\d.]+)% \| pretrained", README.read_text(), re.MULTILINE)
    return {style: (float(as_read) / 100, float(limited) / 100) for style, as_read, limited in rows}


def test_the_shipped_reader_loads_with_weights_only_and_is_small():
    checkpoint = torch.load(PRETRAINED_PATH, map_location="cpu", weights_only=True)
    assert sorted(checkpoint["vocabulary"]["characters"]) == sorted(GENERAL_ALPHABET)
    assert checkpoint["metadata"]["fresh_data"] is True
    assert PRETRAINED_PATH.stat().st_size < 3_000_000


def test_it_reads_fresh_captchas_of_every_style_as_the_readme_states():
    stated = stated_accuracies()
    measured = style_accuracies(Reader.from_pretrained())
    assert set(stated) == set(measured)  # every style is in the README
    for style, (as_read, limited) in stated.items():
        # the same images and weights: only float rounding on another CPU may move a read
        assert measured[style][0] == pytest.approx(as_read, abs=0.02), style
        assert measured[style][1] == pytest.approx(limited, abs=0.02), style


def test_predict_pretrained_reads_with_no_training(tmp_path):
    image = tmp_path / "captcha.png"
    render("7bn4k", "cli-check", "lines").save(image)
    result = subprocess.run([sys.executable, "-m", "captcha_lib", "predict", "--pretrained", image, "--confidence"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    path, text, confidence = result.stdout.strip().split("\t")
    assert path == str(image) and 0 <= float(confidence) <= 1 and set(text) <= set(GENERAL_ALPHABET)


def test_pretrain_reproduces_the_recipe_in_small(tmp_path):
    result = subprocess.run([sys.executable, "-m", "captcha_lib", "pretrain", "--out", tmp_path / "run", "--steps", "3"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "fresh 'mix' images an epoch" in result.stdout and "alphabet '0123456789ABC" in result.stdout
    for style in ("default", "lines", "gray", "colour", "wide"):
        assert re.search(rf"^{style} .*% as read, .*% with its alphabet", result.stdout, re.MULTILINE), style
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert checkpoint["metadata"]["train_images"] == 10_000  # fresh images an epoch
