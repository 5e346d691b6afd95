"""The command line, run for real in a subprocess as a user would."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from captcha_lib import label_from_path, list_images


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "captcha_lib", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def assert_clean_failure(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("error: ") and len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message


@pytest.fixture(scope="module")
def trained_run(tiny_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    result = cli("train", "--data", tiny_dataset, "--out", run_dir, "--epochs", 2, "--batch-size", 8,
                 "--no-progress", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout


@pytest.mark.parametrize("command", [[], ["generate"], ["train"], ["pretrain"], ["evaluate"], ["calibrate"], ["label"],
                                     ["predict"], ["export"], ["serve"]])
def test_help(command):
    result = cli(*command, "--help")
    assert result.returncode == 0 and "usage: python -m captcha_lib" in result.stdout


def test_generate(tmp_path):
    result = cli("generate", "--out", tmp_path / "D", "--train", 5, "--val", 2, "--seed", 1, "--length", 4,
                 "--alphabet", "XY7")
    assert result.returncode == 0, result.stderr
    labels = [label_from_path(p) for p in list_images(tmp_path / "D" / "train")]
    assert len(labels) == 5 and all(len(label) == 4 and set(label) <= set("XY7") for label in labels)
    assert len(list_images(tmp_path / "D" / "val")) == 2


def test_train_writes_checkpoint_and_history_and_prints_each_epoch(trained_run):
    run_dir, stdout = trained_run
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history) == 2
    assert sum(line.startswith("epoch") for line in stdout.splitlines()) == 2
    checkpoint = torch.load(run_dir / "model.pt", weights_only=True)
    assert checkpoint["model_name"] == "crnn"
    assert checkpoint["metadata"]["label_lengths"] == [3, 4]  # what constrained decoding assumes by default


def test_train_reference_model(tiny_dataset, tmp_path):
    result = cli("train", "--data", tiny_dataset / "train", "--out", tmp_path, "--model", "reference",
                 "--epochs", 1, "--val-fraction", 0.25, "--no-progress", "--lr", 1e-3, "--seed", 2)
    assert result.returncode == 0, result.stderr
    assert torch.load(tmp_path / "model.pt", weights_only=True)["model_name"] == "reference"


def test_train_at_another_image_size(tiny_dataset, tmp_path):
    result = cli("train", "--data", tiny_dataset, "--out", tmp_path, "--epochs", 1, "--batch-size", 8,
                 "--image-size", "48x96", "--no-progress", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "48 pixels high, at most 96 wide" in result.stdout
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["image_size"] == [48, 96] and checkpoint["model_config"]["image_height"] == 48
    image = list_images(tiny_dataset / "val")[0]
    result = cli("predict", "--checkpoint", tmp_path / "model.pt", image)  # resized to 48x96 by the checkpoint
    assert result.returncode == 0 and result.stdout.startswith(f"{image}\t"), result.stderr


@pytest.mark.parametrize("args,fragments", [
    (["--image-size", "40x16"], ["a 160x60 image becomes 16x40 and gives the model 2 timesteps", ".png: ",
                                 "larger --image-size"]),
    (["--image-size", "wide"], ["HEIGHTxMAX_WIDTH like 40x512", "'wide'"]),
    (["--image-size", "4x150"], ["out of range"]),
    (["--image-size", "48x150", "--model", "reference"], ["40-pixel-high"]),
])
def test_train_refuses_an_image_size_the_model_cannot_use(tiny_dataset, tmp_path, args, fragments):
    result = cli("train", "--data", tiny_dataset, "--out", tmp_path, "--epochs", 1, "--no-progress", *args)
    assert_clean_failure(result, *fragments)
    assert not (tmp_path / "model.pt").exists()


def test_a_corrupt_file_is_named_before_any_image_is_decoded(tiny_dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    (data / "train" / "ABC.png").write_bytes(b"not a png")
    # the label check reads every image's header (its size) before the first image is decoded
    result = cli("train", "--data", data, "--out", tmp_path / "run", "--image-size", "40x16", "--no-progress")
    assert_clean_failure(result, "ABC.png is not an image")


def test_evaluate_prints_one_json_object(trained_run, tiny_dataset):
    run_dir, _ = trained_run
    result = cli("evaluate", "--checkpoint", run_dir / "model.pt", "--data", tiny_dataset)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 12
    assert 0.0 <= report["sequence_accuracy"] <= 1.0 and report["cer"] >= 0.0
    assert report["decoder"] == "greedy" and list(report["decoders"]) == ["greedy", "beam-4", "beam-16",
                                                                         "constrained-16"]
    for result in report["decoders"].values():
        assert result["ms_per_image"] > 0 and 0.0 <= result["sequence_accuracy"] <= 1.0
        assert set(result["accuracy_at_coverage"]) == {"1.0", "0.99", "0.95", "0.9", "0.8"}
    assert report["decoders"]["greedy"]["fixed"] == report["decoders"]["greedy"]["broken"] == 0


def test_evaluate_writes_the_errors_file(trained_run, tiny_dataset, tmp_path):
    run_dir, _ = trained_run
    errors = tmp_path / "errors.tsv"
    result = cli("evaluate", "--checkpoint", run_dir / "model.pt", "--data", tiny_dataset, "--decoders", "greedy",
                 "beam:2", "--errors", errors)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    header, *rows = [line.split("\t") for line in errors.read_text().splitlines()]
    assert header == ["path", "truth", "decoder", "prediction", "confidence"]
    for name in ("greedy", "beam-2"):  # one row per wrong read of each decoder
        wrong = round((1 - report["decoders"][name]["sequence_accuracy"]) * 12)
        assert sum(row[2] == name for row in rows) == wrong
    for path, truth, _, prediction, confidence in rows:
        assert label_from_path(path) == truth != prediction and 0.0 <= float(confidence) <= 1.0


def test_evaluate_and_predict_reject_a_bad_decoder(trained_run, tiny_dataset):
    run_dir, _ = trained_run
    assert_clean_failure(cli("evaluate", "--checkpoint", run_dir / "model.pt", "--data", tiny_dataset,
                             "--decoders", "viterbi"), "viterbi")
    image = list_images(tiny_dataset / "val")[0]
    assert_clean_failure(cli("predict", "--checkpoint", run_dir / "model.pt", "--decoder", "constrained",
                             "--decode-alphabet", "AZ", image), "'Z'")


def test_predict_prints_path_tab_text(trained_run, tiny_dataset):
    run_dir, _ = trained_run
    paths = list_images(tiny_dataset / "val")[:3]
    result = cli("predict", "--checkpoint", run_dir / "model.pt", *paths)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(p) for p in paths]
    assert all(len(line.split("\t")) == 2 for line in lines)


def test_predict_with_a_decoder_and_confidence(trained_run, tiny_dataset):
    run_dir, _ = trained_run
    paths = list_images(tiny_dataset / "val")[:3]
    result = cli("predict", "--checkpoint", run_dir / "model.pt", "--decoder", "constrained:4", "--decode-length", "3-4",
                 "--confidence", *paths)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        _, text, confidence = line.split("\t")
        assert 3 <= len(text) <= 4 and 0.0 < float(confidence) <= 1.0


def test_missing_folder(tmp_path):
    assert_clean_failure(cli("train", "--data", tmp_path / "nope", "--out", tmp_path / "run"), "nope", "does not exist")


def test_folder_with_no_images(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert_clean_failure(cli("train", "--data", tmp_path / "empty", "--out", tmp_path / "run"), "has no images")


def test_bad_checkpoint(tmp_path, tiny_dataset):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    assert_clean_failure(cli("evaluate", "--checkpoint", bad, "--data", tiny_dataset), "model.pt",
                         "not a captcha_lib checkpoint")
    image = list_images(tiny_dataset / "val")[0]
    assert_clean_failure(cli("predict", "--checkpoint", bad, image), "not a captcha_lib checkpoint")


def test_unknown_character(tiny_dataset, tmp_path, trained_run):
    import shutil

    data = tmp_path / "D"
    shutil.copytree(tiny_dataset, data)
    source = list_images(data / "val")[0]
    source.rename(source.with_name("AZ1.png"))
    assert_clean_failure(cli("train", "--data", data, "--out", tmp_path / "run", "--no-progress"), "AZ1.png", "'Z'")
    run_dir, _ = trained_run
    assert_clean_failure(cli("evaluate", "--checkpoint", run_dir / "model.pt", "--data", data), "AZ1.png", "'Z'")


def test_corrupt_image(trained_run, tmp_path):
    run_dir, _ = trained_run
    bad = tmp_path / "ABC.png"
    bad.write_bytes(b"garbage")
    assert_clean_failure(cli("predict", "--checkpoint", run_dir / "model.pt", bad), "ABC.png", "is not an image")
    assert_clean_failure(cli("predict", "--checkpoint", run_dir / "model.pt", tmp_path / "none.png"), "does not exist")


@pytest.mark.parametrize("args, fragment", [
    (["generate", "--train", "-5"], "--train"),
    (["train", "--batch-size", "0"], "batch_size"),
    (["train", "--lr", "nan"], "lr"),
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--image-size", "40"], "HEIGHTxMAX_WIDTH"),
    (["train", "--device", "bogus"], "device"),
    (["train", "--learning-rate", "0.1"], "--learning-rate"),
    (["predict", "--batch-size", "0"], "--batch-size"),
])
def test_invalid_options_fail_in_one_line_before_any_work(args, fragment, tiny_dataset, tmp_path):
    extra = {"train": ["--data", tiny_dataset, "--out", tmp_path / "run"], "generate": ["--out", tmp_path / "g"],
             "predict": ["--checkpoint", tmp_path / "none.pt", tmp_path / "none.png"]}[args[0]]
    result = cli(*args, *extra)
    assert result.returncode == 2
    assert_clean_failure(result, fragment)
    assert not (tmp_path / "run").exists() and not (tmp_path / "g").exists()  # refused before anything was made


def test_train_resume_continues_a_run(trained_run, tmp_path):
    run_dir, _ = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    result = cli("train", "--resume", copy, "--epochs", 3)  # the run's own options, one more epoch
    assert result.returncode == 0, result.stderr
    assert "resuming after epoch 2" in result.stdout
    assert [r["epoch"] for r in json.loads((copy / "history.json").read_text())] == [1, 2, 3]
    assert_clean_failure(cli("train", "--resume", tmp_path / "nothing"), "no last.pt")
    assert_clean_failure(cli("train", "--epochs", 3), "--data", "--resume")


def test_sigterm_stops_training_like_ctrl_c_and_keeps_the_best_model(tiny_dataset, tmp_path):
    import signal
    import time

    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "captcha_lib", "train", "--data", str(tiny_dataset), "--out",
                                str(run_dir), "--epochs", "500", "--batch-size", "8", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / "last.pt").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert "the best model so far is" in stderr and "--resume" in stderr
    assert json.loads((run_dir / "history.json").read_text())  # whole, valid JSON
    torch.load(run_dir / "model.pt", weights_only=True)
    assert not list(run_dir.glob("*.partial"))


def test_a_label_with_whitespace_is_refused_by_name(tmp_path):
    from captcha_lib import render

    (tmp_path / "train").mkdir()
    for name in ("AB1.png", "B A2.png"):
        render("AB", seed=0).save(tmp_path / "train" / name)
    assert_clean_failure(cli("train", "--data", tmp_path, "--out", tmp_path / "run"), "B A2.png", "space")
