"""Starting from trained weights, calibrated confidence, and labelling with the model in the loop."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from captcha_lib import CRNN, Decoder, Reader, Vocabulary, list_images, save_checkpoint
from captcha_lib.decoding.calibration import (choose_threshold, expected_calibration_error, fit_temperature,
                                              greedy_confidences, reliability)
from captcha_lib.deploy.labelling import calibrate_checkpoint, label_folder
from captcha_lib.model.checkpoint import read_checkpoint
from captcha_lib.model.transfer import initialise_from


def cli(*args):
    return subprocess.run([sys.executable, "-m", "captcha_lib", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


# ---------------------------------------------------------------- weights from another alphabet


def test_shared_characters_keep_their_rows_and_new_ones_start_fresh(tmp_path):
    torch.manual_seed(0)
    source = CRNN(num_characters=3)  # "abc": classes blank, a, b, c
    save_checkpoint(tmp_path / "source.pt", source, Vocabulary("abc"), (40, 512))
    checkpoint = read_checkpoint(tmp_path / "source.pt")
    torch.manual_seed(1)
    model = CRNN(num_characters=3)  # "bcd": blank, b, c, d
    fresh_d = model.output[1].weight[3].clone()
    counts = initialise_from(model, Vocabulary("bcd"), checkpoint, "source.pt")
    old, new = source.output[1].weight, model.output[1].weight
    assert torch.equal(new[0], old[0])  # blank
    assert torch.equal(new[1], old[2]) and torch.equal(new[2], old[3])  # b and c, moved to their new rows
    assert torch.equal(new[3], fresh_d)  # d: never seen, left as initialised
    assert torch.equal(model.coarse_output.bias[1], source.coarse_output.bias[2])
    assert torch.equal(model.features[0][0].weight, source.features[0][0].weight)
    assert counts["rows"] == 2 and counts["new_characters"] == 1 and not counts["fresh"]


def test_another_architecture_is_refused_by_name(tmp_path):
    from captcha_lib import CheckpointError

    save_checkpoint(tmp_path / "wide.pt", CRNN(3, hidden_size=64), Vocabulary("abc"), (40, 512))
    with pytest.raises(CheckpointError, match="projection.0.weight has shape .64, 320.*not the same architecture"):
        initialise_from(CRNN(3), Vocabulary("abc"), read_checkpoint(tmp_path / "wide.pt"), "wide.pt")


def test_train_init_starts_from_a_checkpoint_with_another_alphabet(trained_checkpoint, tmp_path):
    data = tmp_path / "data"
    from captcha_lib import generate_dataset

    generate_dataset(data, 16, 8, seed=5, length="3-4", alphabet="AB12XY", workers=1)  # X, Y are new
    result = cli("train", "--data", data, "--out", tmp_path / "run", "--init", trained_checkpoint, "--steps", 4,
                 "--batch-size", 8, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "4 characters' rows copied, 2 new characters start fresh" in result.stdout
    assert "lr 0.001" in result.stdout  # the fine-tuning recipe
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert checkpoint["vocabulary"]["characters"] == "12ABXY"
    assert checkpoint["model_config"]["time_stride"] == read_checkpoint(trained_checkpoint)["model_config"]["time_stride"]


def test_init_with_a_missing_checkpoint_fails_in_one_line(tiny_dataset, tmp_path):
    result = cli("train", "--data", tiny_dataset, "--out", tmp_path / "run", "--init", tmp_path / "nope.pt")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "nope.pt" in result.stderr


# ---------------------------------------------------------------- calibration


def test_reliability_and_expected_calibration_error():
    confidences = [0.95, 0.95, 0.95, 0.95, 0.55, 0.55]
    correct = [True, True, False, False, True, False]
    bins = reliability(confidences, correct)
    assert [(b["count"], b["accuracy"]) for b in bins] == [(2, 0.5), (4, 0.5)]
    # 4/6 of the reads 0.45 too confident, 2/6 0.05: ECE = 0.3 + 0.0167
    assert expected_calibration_error(confidences, correct) == pytest.approx(4 / 6 * 0.45 + 2 / 6 * 0.05)
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0


@pytest.mark.parametrize("target, threshold, coverage", [(1.0, 0.9, 0.4), (0.8, 0.9, 0.4), (0.75, 0.6, 0.8), (0.5, 0.1, 1.0)])
def test_the_threshold_accepts_as_many_reads_as_the_target_allows(target, threshold, coverage):
    confidences = [0.99, 0.9, 0.6, 0.6, 0.1]
    correct = [True, True, True, False, False]
    chosen = choose_threshold(confidences, correct, target)
    assert chosen["threshold"] == threshold and chosen["coverage"] == coverage and chosen["accuracy"] >= target


def test_no_threshold_meets_a_target_the_best_reads_miss():
    chosen = choose_threshold([0.9, 0.8], [False, True], 1.0)
    assert chosen["threshold"] > 1 and chosen["coverage"] == 0.0


def test_temperature_softens_an_over_confident_model_and_keeps_its_reads():
    rng = np.random.default_rng(0)
    best = rng.integers(0, 5, size=(12, 200))  # (T, B): one class far ahead at every step
    logits = rng.normal(size=(12, 200, 5)) + 9 * np.eye(5)[best]  # (T, B, C): every read scores near 1
    labels, before = greedy_confidences([logits])
    correct = rng.random(200) < 0.6  # only 60% of them right
    temperature = fit_temperature([logits], correct)
    after_labels, after = greedy_confidences([logits], temperature)
    assert temperature > 1 and after_labels == labels
    assert expected_calibration_error(after, correct) < expected_calibration_error(before, correct)
    decoder = Decoder(temperature=temperature)
    readings = decoder.decode(logits, Vocabulary("abcd"))
    assert [r.confidence for r in readings] == pytest.approx(after.tolist(), rel=1e-4)
    assert [r.text for r in readings] == [r.text for r in Decoder().decode(logits, Vocabulary("abcd"))]


# ---------------------------------------------------------------- the labelling loop


@pytest.fixture()
def calibrated(trained_checkpoint, tiny_dataset, tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(trained_checkpoint.read_bytes())
    result = cli("calibrate", "--checkpoint", path, "--data", tiny_dataset, "--target-accuracy", 0.9)
    assert result.returncode == 0, result.stderr
    assert "temperature" in result.stdout and "expected calibration error" in result.stdout
    return path


def test_calibration_is_stored_and_every_reader_applies_its_temperature(calibrated):
    calibration = torch.load(calibrated, weights_only=True)["metadata"]["calibration"]
    assert {"temperature", "threshold", "coverage", "ece_before", "ece_after"} <= set(calibration)
    assert calibration["target_accuracy"] == 0.9 and calibration["images"] == 12
    reader = Reader.from_checkpoint(calibrated)
    assert reader.decoder.temperature == calibration["temperature"]


def test_label_writes_confident_reads_and_a_review_list_least_confident_first(calibrated, tiny_dataset, tmp_path):
    unlabelled = tiny_dataset / "val"
    out = tmp_path / "labelled"
    result = cli("label", "--checkpoint", calibrated, "--in", unlabelled, "--out", out, "--threshold", 0.5)
    assert result.returncode == 0, result.stderr
    accepted = (out / "labels.tsv").read_text().splitlines()
    review = (out / "review.tsv").read_text().splitlines()
    assert review[0] == "path\tread\tconfidence" and len(accepted) + len(review) - 1 == 12
    confidences = [float(line.split("\t")[2]) for line in review[1:]]
    assert confidences == sorted(confidences) and all(c < 0.5 for c in confidences)
    if accepted:  # the labels file reads back as training labels, paths relative to it
        from captcha_lib import Labeller

        labeller = Labeller(out / "labels.tsv")
        path = unlabelled / accepted[0].split("\t")[0].split("/")[-1]
        assert labeller(path) == accepted[0].split("\t")[1]


def test_label_uses_the_calibrated_threshold_and_refuses_an_uncalibrated_model(calibrated, trained_checkpoint,
                                                                            tiny_dataset, tmp_path):
    counts = label_folder(calibrated, tiny_dataset / "val", tmp_path / "a")
    assert counts["threshold"] == torch.load(calibrated, weights_only=True)["metadata"]["calibration"]["threshold"]
    uncalibrated = tmp_path / "plain.pt"
    checkpoint = torch.load(trained_checkpoint, weights_only=True)
    checkpoint["metadata"].pop("calibration", None)
    torch.save(checkpoint, uncalibrated)
    result = cli("label", "--checkpoint", uncalibrated, "--in", tiny_dataset / "val", "--out", tmp_path / "b")
    assert result.returncode == 2 and "calibrate" in result.stderr and "Traceback" not in result.stderr


def test_label_lists_unreadable_images_and_reads_the_rest(calibrated, tiny_dataset, tmp_path):
    import shutil

    folder = tmp_path / "scraped"
    shutil.copytree(tiny_dataset / "val", folder)
    good = sorted(folder.iterdir())
    cut = folder / "cut.png"
    cut.write_bytes(good[0].read_bytes()[:200])  # a download that stopped early
    (folder / "page.png").write_bytes(b"<html>not found</html>")  # a web page saved as .png
    result = cli("label", "--checkpoint", calibrated, "--in", folder, "--out", tmp_path / "out", "--batch-size", 4)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "2 images could not be read" in result.stdout
    rows = (tmp_path / "out" / "unreadable.tsv").read_text().splitlines()
    assert rows[0] == "path\treason" and sorted(row.split("\t")[0] for row in rows[1:]) == ["../scraped/cut.png",
                                                                                          "../scraped/page.png"]
    accepted = (tmp_path / "out" / "labels.tsv").read_text().splitlines()
    review = (tmp_path / "out" / "review.tsv").read_text().splitlines()[1:]
    assert len(accepted) + len(review) == len(good)  # every readable image, once


def test_training_calibrates_its_model_on_the_val_images(trained_checkpoint, tiny_dataset):
    calibration = torch.load(trained_checkpoint, weights_only=True)["metadata"]["calibration"]
    assert calibration["images"] == len(list_images(tiny_dataset / "val"))
    assert calibration["target_accuracy"] == 0.99


def test_calibrate_checkpoint_refuses_no_images(trained_checkpoint):
    from captcha_lib import DataError

    with pytest.raises(DataError, match="labelled images"):
        calibrate_checkpoint(trained_checkpoint, [])


# ---------------------------------------------------------------- pseudo-labels


def test_extra_labels_join_the_training_images(tiny_dataset, tmp_path):
    from captcha_lib import generate_dataset

    generate_dataset(tmp_path / "more", 10, 0, seed=9, length="3-4", alphabet="ABC123", workers=1)
    images = sorted((tmp_path / "more" / "train").iterdir())
    (tmp_path / "more" / "labels.tsv").write_text("".join(f"train/{p.name}\t{p.name.split('.')[0].split('_')[0]}\n"
                                                          for p in images))
    result = cli("train", "--data", tiny_dataset, "--out", tmp_path / "run", "--extra-labels",
                 tmp_path / "more" / "labels.tsv", "--steps", 2, "--batch-size", 8, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "58 train images" in result.stdout  # 48 + 10


def test_unlabelled_images_are_read_in_rounds_and_the_best_round_is_kept(tiny_dataset, tmp_path):
    from captcha_lib import generate_dataset

    generate_dataset(tmp_path / "unlabelled", 12, 0, seed=11, length="3-4", alphabet="ABC123", workers=1)
    out = tmp_path / "run"
    result = cli("train", "--data", tiny_dataset, "--out", out, "--unlabelled", tmp_path / "unlabelled" / "train",
                 "--pseudo-rounds", 1, "--epochs", 2, "--batch-size", 8, "--no-progress", "--target-accuracy", 0.5)
    assert result.returncode == 0, result.stderr
    assert "round 1: " in result.stdout and " of 12 unlabelled images read at confidence" in result.stdout
    review = (out / "pseudo-1" / "review.tsv").read_text().splitlines()
    accepted = (out / "pseudo-1" / "labels.tsv").read_text().splitlines()
    assert len(review) - 1 + len(accepted) == 12
    rounds = sorted(p.name for p in out.glob("round-*.pt"))
    assert rounds[0] == "round-0.pt" and "model.pt is round" in result.stdout
    assert any((out / "model.pt").read_bytes() == (out / name).read_bytes() for name in rounds)


def test_unlabelled_with_fresh_data_is_refused(tmp_path):
    from captcha_lib import ConfigError, TrainConfig

    with pytest.raises(ConfigError, match="fresh data"):
        TrainConfig(fresh_data=True, unlabelled=str(tmp_path))


def test_corrections_join_the_labels_file_and_read_back(calibrated, tiny_dataset, tmp_path):
    from captcha_lib import DataError, Labeller
    from captcha_lib.course.review import add_labels, read_review, review_widget

    out = tmp_path / "labelled"
    label_folder(calibrated, tiny_dataset / "val", out, threshold=1.01)  # everything to review
    rows = read_review(out / "review.tsv")
    assert len(rows) == 12 and all(path.is_file() for path, _, _ in rows)
    first, second = rows[0][0], rows[1][0]
    assert add_labels(out / "labels.tsv", {first: "AB12", second: ""}) == 1  # an empty box is skipped
    assert add_labels(out / "labels.tsv", {first: "AB13", second: "C3"}) == 2  # a correction replaces
    labeller = Labeller(out / "labels.tsv")
    assert labeller(first) == "AB13" and labeller(second) == "C3"
    with pytest.raises(DataError, match="tabs"):
        add_labels(out / "labels.tsv", {first: "A\tB"})
    widget = review_widget(out / "review.tsv", out / "labels.tsv", count=4)
    assert len(widget.children[1].children) == 4  # four images, each with its box


def test_the_few_shot_curve_is_drawn_in_order_of_size():
    import matplotlib

    matplotlib.use("Agg")
    from captcha_lib.course.plots import plot_few_shot

    # notebook 08 adds its 50-label points first, then 25, 100 and 200
    figure = plot_few_shot({"fine-tuned": {50: 0.9, 25: 0.8, 100: 0.92, 200: 0.95}}, {"no training": 0.5})
    line = figure.axes[0].lines[0]
    assert list(line.get_xdata()) == [25, 50, 100, 200]
    assert list(line.get_ydata()) == [0.8, 0.9, 0.92, 0.95]
