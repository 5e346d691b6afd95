"""Shared fixtures: small real data sets rendered by the generator into temp folders."""

import pytest

from captcha_lib.generate import generate_dataset

TINY_ALPHABET = "ABC123"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Dataset/train + Dataset/val in the reference layout: 48 + 12 images, labels of 3-4 chars."""
    root = tmp_path_factory.mktemp("tiny") / "Dataset"
    generate_dataset(root, n_train=48, n_val=12, seed=7, length="3-4", alphabet=TINY_ALPHABET, workers=1)
    return root
