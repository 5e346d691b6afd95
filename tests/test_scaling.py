"""Fresh synthetic data, lazily read folders, and torchrun with 2 CPU processes."""

import json
import subprocess
import sys

import pytest
import torch

from captcha_lib import load_checkpoint
from captcha_lib import CaptchaDataset, collate_batch, list_images, load_datasets, make_loader
from captcha_lib import UnknownCharacterError
from captcha_lib import SyntheticCaptchas
from captcha_lib import Vocabulary


def labels_of(loader) -> list[str]:
    return [label for batch in loader for label in batch["labels"]]


def test_fresh_data_is_reproducible_and_new_every_epoch():
    data = SyntheticCaptchas(images_per_epoch=6, alphabet="AB34", length="3-5", seed=1)
    first = [data[i] for i in range(6)]
    assert [data[i]["label"] for i in range(6)] == [item["label"] for item in first]  # same epoch, same images
    assert torch.equal(data[2]["image"], first[2]["image"])
    assert all(set(item["label"]) <= set("AB34") and 3 <= len(item["label"]) <= 5 for item in first)
    assert first[0]["image"].shape == (3, 40, 112) and first[0]["image"].dtype == torch.float32
    data.set_epoch(2)
    assert [data[i]["label"] for i in range(6)] != [item["label"] for item in first]  # a new epoch, new images
    other_seed = SyntheticCaptchas(images_per_epoch=6, alphabet="AB34", length="3-5", seed=2)
    assert [other_seed[i]["label"] for i in range(6)] != [item["label"] for item in first]


def test_fresh_data_is_the_same_whatever_the_number_of_workers():
    data = SyntheticCaptchas(images_per_epoch=12, alphabet="AB34", seed=0)
    in_process = make_loader(data, batch_size=4, shuffle=True, seed=3, num_workers=0)
    in_workers = make_loader(data, batch_size=4, shuffle=True, seed=3, num_workers=2)
    assert labels_of(in_process) == labels_of(in_workers)
    assert make_loader(data).num_workers > 0  # rendered on the fly: workers by default


def test_fresh_data_alphabet_must_fit_the_vocabulary():
    with pytest.raises(UnknownCharacterError, match="synthetic"):
        SyntheticCaptchas(Vocabulary("AB"), alphabet="ABC")


def test_a_folder_too_large_to_cache_is_read_lazily_with_the_same_items(tiny_dataset):
    paths = list_images(tiny_dataset / "train")
    vocab = Vocabulary.from_labels(p.name.split(".")[0] for p in paths)
    cached = CaptchaDataset(paths, vocab)
    lazy = CaptchaDataset(paths, vocab, cache_limit_bytes=0)
    assert cached.in_memory and not lazy.in_memory and lazy.images is None
    for i in (0, 17, len(paths) - 1):
        assert torch.equal(cached[i]["image"], lazy[i]["image"]) and cached[i]["label"] == lazy[i]["label"]
    loader = make_loader(lazy, batch_size=8, shuffle=True, seed=0)
    assert loader.num_workers > 0  # decoded in worker processes
    assert labels_of(loader) == labels_of(make_loader(cached, batch_size=8, shuffle=True, seed=0))
    train, val = load_datasets(tiny_dataset, cache_limit_bytes=0)
    assert not train.in_memory and not val.in_memory
    batch = collate_batch([train[0], train[1]])
    assert batch["images"].shape == (2, 3, 40, 112)


def test_mixed_precision_step_on_cpu(tiny_dataset):
    """bf16 autocast (the GPU default) also runs on a CPU when asked: finite loss, fp32 weights."""
    from captcha_lib import CRNN
    from captcha_lib import TrainConfig, Trainer

    train, val = load_datasets(tiny_dataset)
    model = CRNN(train.vocabulary.num_characters)
    trainer = Trainer(model, make_loader(train, 16, shuffle=True), make_loader(val, 16), train.vocabulary,
                      TrainConfig(epochs=1, device="cpu", amp=True, progress=False))
    assert trainer.amp_dtype == torch.bfloat16
    loss = trainer.train_epoch()
    assert loss == loss and loss < 100  # finite
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_torchrun_two_cpu_processes(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "captcha_lib", "train", "--data", str(tiny_dataset), "--out", str(out), "--epochs", "4",
         "--batch-size", "8", "--no-progress", "--device", "cpu"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 4  # rank 0 alone logs: one line per epoch, not two
    assert "x 2 processes" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["history.json", "last.pt", "model.pt"]  # one writer (rank 0), no leftovers
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # the loss falls
    model, vocabulary, checkpoint = load_checkpoint(out / "model.pt")  # the single-process format
    assert checkpoint["metadata"]["world_size"] == 2
    assert not any(key.startswith("module.") for key in checkpoint["state_dict"])  # the plain model, not DDP's
    subprocess.run([sys.executable, "-m", "captcha_lib", "evaluate", "--checkpoint", str(out / "model.pt"),
                    "--data", str(tiny_dataset), "--decoders", "greedy"], check=True, capture_output=True)
