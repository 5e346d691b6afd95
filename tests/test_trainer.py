import json
import math

import pytest
import torch

from captcha_lib import (RECIPES, TrainConfig, Trainer, build_model, load_checkpoint, load_datasets, make_loader,
                         resolve_device, set_seed, train_run)

HISTORY_KEYS = {"epoch", "train_loss", "val_loss", "val_sequence_accuracy", "val_cer", "lr", "seconds", "elapsed"}


def tiny_trainer(dataset_dir, tmp_path, model_name="crnn", **config):
    set_seed(0)
    train, val = load_datasets(dataset_dir)
    model = build_model(model_name, num_characters=train.vocabulary.num_characters)
    # the reference recipe's loop (plateau schedule, no warm-up) at a higher rate, for any model
    config = TrainConfig(**{**RECIPES["reference"], "model": model_name, "lr": 3e-3, "progress": False,
                            "out": str(tmp_path), **config})
    return Trainer(model, make_loader(train, 8, shuffle=True), make_loader(val, 16), train.vocabulary, config)


def test_tiny_training_run_loss_is_finite_and_falls(tiny_dataset, tmp_path):
    trainer = tiny_trainer(tiny_dataset, tmp_path, epochs=4, early_stopping_patience=None)
    history = trainer.fit()
    assert len(history) == 4
    assert all(HISTORY_KEYS <= set(record) for record in history)
    losses = [record["train_loss"] for record in history]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0]
    assert all(0.0 <= r["val_sequence_accuracy"] <= 1.0 and r["val_cer"] >= 0.0 for r in history)
    assert (tmp_path / "model.pt").is_file()  # the best epoch was saved
    model, vocab, checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert vocab == trainer.vocabulary and checkpoint["metadata"]["epoch"] >= 1
    assert checkpoint["metadata"]["label_lengths"] == [3, 4]  # from the training set, for constrained decoding


def test_time_limit_stops_training(tiny_dataset, tmp_path):
    trainer = tiny_trainer(tiny_dataset, tmp_path, epochs=1000, max_minutes=0.05, early_stopping_patience=None)
    history = trainer.fit()
    assert len(history) < 1000
    assert history[-1]["elapsed"] < 30


def test_early_stopping_and_best_weights_are_restored(tiny_dataset, tmp_path):
    # The reference model has no batch norm: with lr 0 its weights never change, so epoch 1
    # stays the best and training stops `patience` epochs later.
    trainer = tiny_trainer(tiny_dataset, tmp_path, "reference", epochs=50, lr=0.0, early_stopping_patience=2)
    history = trainer.fit()
    assert len(history) == 3
    saved, _, _ = load_checkpoint(tmp_path / "model.pt")
    for (name, a), b in zip(trainer.model.state_dict().items(), saved.state_dict().values()):
        assert torch.equal(a.cpu(), b), name


def test_same_seed_same_history(tiny_dataset, tmp_path):
    runs = [tiny_trainer(tiny_dataset, tmp_path / str(i), epochs=2, progress=False).fit() for i in range(2)]
    assert [r["train_loss"] for r in runs[0]] == [r["train_loss"] for r in runs[1]]


def test_recipes_and_devices():
    config = TrainConfig.recipe("reference", epochs=7)
    assert (config.lr, config.epochs, config.batch_size, config.augment) == (1e-3, 7, 32, False)
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}


def test_train_run_writes_model_and_history(tiny_dataset, tmp_path):
    lines = []
    train_run(TrainConfig.recipe(data=str(tiny_dataset), out=str(tmp_path / "run"), epochs=2, batch_size=8,
                                 progress=False), log=lines.append)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert (tmp_path / "run" / "model.pt").is_file()
    assert sum(line.startswith("epoch") for line in lines) == 2


@pytest.mark.parametrize("data", ["tiny_dataset", "wide_dataset"])  # one width; many widths (SimilarWidths)
def test_a_stopped_run_resumes_to_the_same_weights(data, request, tmp_path):
    """Stop a run after 2 of 4 epochs (as Ctrl-C would), resume it: the weights equal an unbroken run's."""
    from captcha_lib import resume_run

    data_dir = request.getfixturevalue(data)

    def config(out):
        return TrainConfig.recipe(data=str(data_dir), out=str(out), epochs=4, batch_size=8, progress=False,
                                  device="cpu", augment=True)  # augmentation too: its random state must resume

    unbroken = train_run(config(tmp_path / "unbroken"), log=lambda *_: None)

    def interrupt(record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(config(tmp_path / "stopped"), log=lambda *_: None, on_epoch=interrupt)
    assert len(json.loads((tmp_path / "stopped" / "history.json").read_text())) == 2
    resumed = resume_run(tmp_path / "stopped", log=lambda *_: None)
    assert resumed.step == unbroken.step == 4 * len(unbroken.train_loader)  # 4 epochs of batches of 8
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in unbroken.history]
    for run in ("unbroken", "stopped"):  # the final weights, as written after the last epoch
        assert torch.load(tmp_path / run / "last.pt", weights_only=True)["epoch"] == 4
    last = [torch.load(tmp_path / run / "last.pt", weights_only=True)["model"] for run in ("unbroken", "stopped")]
    for name, tensor in last[0].items():
        assert torch.equal(tensor, last[1][name]), name
    assert [r["epoch"] for r in json.loads((tmp_path / "stopped" / "history.json").read_text())] == [1, 2, 3, 4]


def test_resume_needs_a_run_to_resume(tmp_path):
    from captcha_lib import CheckpointError, resume_run

    with pytest.raises(CheckpointError, match="no last.pt"):
        resume_run(tmp_path)


def test_the_schedule_warms_up_then_decays_to_two_percent():
    from captcha_lib.training.schedule import warmup_cosine

    assert warmup_cosine(0, warmup_steps=100, budget_used=0.0) == pytest.approx(0.01)  # step 1 of 100
    assert warmup_cosine(100, warmup_steps=100, budget_used=0.0) == pytest.approx(1.0)  # the peak
    assert warmup_cosine(2500, warmup_steps=100, budget_used=0.5) == pytest.approx(0.51)  # half way down
    assert warmup_cosine(5000, warmup_steps=100, budget_used=1.0) == pytest.approx(0.02)  # the end of the budget


def test_images_of_many_widths_train_in_padded_batches(tmp_path):
    """The wide style: 285-690 pixels wide, so every batch is padded and masked; training runs,
    and the saved model reads the images it trained on."""
    from captcha_lib import Reader, generate_dataset, list_images

    data = tmp_path / "wide"
    generate_dataset(data, n_train=24, n_val=8, seed=0, style="wide", workers=1)
    lines = []
    trainer = train_run(TrainConfig.recipe(data=str(data), out=str(tmp_path / "run"), epochs=2, batch_size=8,
                                           progress=False), log=lines.append)
    assert any(len(set(batch["widths"].tolist())) > 1 for batch in trainer.train_loader)  # batches mix widths
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in trainer.history)
    height, max_width = trainer.image_size
    assert (height, max_width) == (40, 512) and any("40 pixels high, at most 512 wide" in line for line in lines)
    reader = Reader.from_checkpoint(tmp_path / "run" / "model.pt")
    paths = list_images(data / "val")
    assert len(reader.predict(paths)) == len(paths)
    assert reader.image_size == (height, max_width)
