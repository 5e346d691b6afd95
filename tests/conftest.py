"""Shared fixtures: small real data sets rendered by the generator into temp folders."""

import pytest
from hypothesis import HealthCheck, settings

from captcha_lib import generate_dataset

# Property tests draw the same examples on every run (reproducible CI), and a busy
# machine that draws them slowly is not a failure.
settings.register_profile("repo", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("repo")

TINY_ALPHABET = "ABC123"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Dataset/train + Dataset/val in the reference layout: 48 + 12 images, labels of 3-4 chars."""
    root = tmp_path_factory.mktemp("tiny") / "Dataset"
    generate_dataset(root, n_train=48, n_val=12, seed=7, length="3-4", alphabet=TINY_ALPHABET, workers=1)
    return root


@pytest.fixture(scope="session")
def wide_dataset(tmp_path_factory):
    """24 + 8 images of the wide style: 285-690 pixels wide, so batches mix widths (6 characters, all in train)."""
    root = tmp_path_factory.mktemp("wide") / "Dataset"
    generate_dataset(root, n_train=24, n_val=8, seed=3, style="wide", alphabet="aB3dEf", workers=1)
    return root


@pytest.fixture(scope="session")
def trained_checkpoint(tiny_dataset, tmp_path_factory):
    """A real CRNN checkpoint trained briefly on the tiny data set (not a good reader: a real one)."""
    from captcha_lib import TrainConfig, train_run

    run_dir = tmp_path_factory.mktemp("trained")
    train_run(TrainConfig.recipe("crnn", data=str(tiny_dataset), out=str(run_dir), epochs=3, batch_size=8, device="cpu",
                                 progress=False), log=lambda *_: None)
    return run_dir / "model.pt"
