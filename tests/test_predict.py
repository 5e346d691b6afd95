import numpy as np
import pytest
from PIL import Image

from captcha_lib.checkpoint import save_checkpoint
from captcha_lib.data import list_images
from captcha_lib.errors import DataError
from captcha_lib.models import CRNN
from captcha_lib.predict import Predictor
from captcha_lib.trainer import set_seed
from captcha_lib.vocab import Vocabulary


@pytest.fixture
def predictor(tmp_path):
    set_seed(0)
    vocab = Vocabulary("ABC123")
    path = save_checkpoint(tmp_path / "model.pt", CRNN(vocab.num_characters), vocab, (40, 150))
    return Predictor.from_checkpoint(path, device="cpu", batch_size=5)


def test_paths_pil_images_and_arrays_give_the_same_text(predictor, tiny_dataset):
    paths = list_images(tiny_dataset / "val")
    from_paths = predictor.predict(paths)
    from_pil = predictor.predict([Image.open(p) for p in paths])
    from_arrays = predictor.predict([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    assert len(from_paths) == len(paths) == 12  # 12 images in batches of 5
    assert from_paths == from_pil == from_arrays
    assert all(set(text) <= set("ABC123") for text in from_paths)
    assert predictor.predict_one(paths[0]) == from_paths[0]


def test_logits_shape(predictor, tiny_dataset):
    paths = list_images(tiny_dataset / "val")[:3]
    assert predictor.logits(paths).shape == (18, 3, 7)


def test_unreadable_image_is_a_clear_error(predictor, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png"):
        predictor.predict([bad])
