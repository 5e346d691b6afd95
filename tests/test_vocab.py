import pytest

from captcha_lib import UnknownCharacterError
from captcha_lib import Vocabulary


def test_vocabulary_is_sorted_characters_with_blank_at_zero():
    vocab = Vocabulary.from_labels(["8AE5T", "BC3X2"])
    assert vocab.characters == "2358ABCETX"
    assert vocab.blank_index == 0
    assert vocab.num_characters == 10
    assert vocab.num_classes == 11


def test_encode_adds_one_and_decode_inverts():
    vocab = Vocabulary.from_labels(["8AE5T", "BC3X2"])
    encoded = vocab.encode("8AE5T")
    assert encoded == [4, 5, 8, 3, 9]
    assert min(encoded) >= 1  # 0 is the blank
    assert vocab.decode(encoded) == "8AE5T"
    assert vocab.decode([0, 4, 0, 0, 5]) == "8A"  # blanks are skipped


def test_unknown_character_names_the_character_and_the_file():
    vocab = Vocabulary("ABC")
    with pytest.raises(UnknownCharacterError, match="not in the training alphabet") as info:
        vocab.encode("AZ", source="val/AZ.png")
    assert "val/AZ.png" in str(info.value) and "'Z'" in str(info.value)


def test_round_trips_as_plain_data():
    vocab = Vocabulary("ZYX")
    data = vocab.to_dict()
    assert data == {"characters": "XYZ", "blank_index": 0}
    assert Vocabulary.from_dict(data) == vocab


def test_empty_vocabulary_is_an_error():
    with pytest.raises(Exception, match="empty"):
        Vocabulary.from_labels([])
