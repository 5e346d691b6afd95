import pytest
import torch

from captcha_lib import load_checkpoint, save_checkpoint
from captcha_lib.model.checkpoint import read_checkpoint
from captcha_lib import CheckpointError
from captcha_lib import CRNN, ReferenceModel
from captcha_lib import Vocabulary


@pytest.mark.parametrize("model_class", [CRNN, ReferenceModel])
def test_round_trip_with_weights_only(tmp_path, model_class):
    torch.manual_seed(0)
    vocab = Vocabulary("ABC123")
    model = model_class(vocab.num_characters).eval()
    path = save_checkpoint(tmp_path / "run" / "model.pt", model, vocab, (40, 150), {"epoch": 3})
    raw = torch.load(path, weights_only=True)  # plain data and tensors only: no pickled objects
    assert raw["vocabulary"]["characters"] == "123ABC"
    assert raw["model_name"] == model.name and raw["image_size"] == [40, 150]
    loaded, loaded_vocab, checkpoint = load_checkpoint(path)
    assert loaded_vocab == vocab and checkpoint["metadata"]["epoch"] == 3
    assert not loaded.training
    images = torch.randn(2, 3, 40, 150)
    with torch.no_grad():
        assert torch.equal(model(images)[0], loaded(images)[0])


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="model.pt is not a captcha_lib checkpoint"):
        read_checkpoint(path)


def test_bare_state_dict_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "best_captcha_model.pth"
    torch.save(ReferenceModel(36).state_dict(), path)  # what the reference saved
    with pytest.raises(CheckpointError, match="bare state_dict"):
        read_checkpoint(path)


def test_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "captcha_lib.checkpoint", "payload": Vocabulary("AB")}, path)
    with pytest.raises(CheckpointError, match="evil.pt is not a captcha_lib checkpoint"):
        read_checkpoint(path)


def test_weights_that_do_not_fit(tmp_path):
    vocab = Vocabulary("AB")
    path = save_checkpoint(tmp_path / "model.pt", CRNN(2), vocab, (40, 150))
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["vocabulary"]["characters"] = "ABCD"  # now the output layer is the wrong size
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_a_checkpoint_from_before_the_coarse_head_still_loads(tmp_path):
    """Older CRNN checkpoints hold no coarse-head weights and no coarse_weight: they load and read."""
    vocab = Vocabulary("AB12")
    model = CRNN(vocab.num_characters, coarse_weight=0.0).eval()
    path = save_checkpoint(tmp_path / "old.pt", model, vocab, (40, 150))
    checkpoint = torch.load(path, weights_only=True)
    for key in ("coarse_weight", "coarse_factor", "time_stride"):
        del checkpoint["model_config"][key]
    torch.save(checkpoint, path)
    loaded, _, _ = load_checkpoint(path)
    images = torch.randn(1, 3, 40, 144)
    torch.testing.assert_close(loaded(images)[0], model(images)[0])
