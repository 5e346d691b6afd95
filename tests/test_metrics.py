import pytest

from captcha_lib import (character_error_rate, edit_distance, positional_character_accuracy,
                                 sequence_accuracy)


@pytest.mark.parametrize("a,b,distance", [
    ("", "", 0), ("ABC", "ABC", 0), ("ABC", "", 3), ("", "AB", 2),
    ("8AE5T", "8AAE5T", 1), ("kitten", "sitting", 3), ("5bbzt", "5bzt", 1),
])
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def test_cer_and_sequence_accuracy():
    predictions, truths = ["8AE5T", "BC3X", "K7M9P"], ["8AE5T", "BC3X2", "K7N9P"]
    assert sequence_accuracy(predictions, truths) == pytest.approx(1 / 3)
    assert character_error_rate(predictions, truths) == pytest.approx(2 / 15)


def test_positional_accuracy_punishes_one_insertion_as_many_errors():
    # One inserted character: edit distance sees 1 error, position-by-position sees 4.
    predictions, truths = ["8AAE5T"], ["8AE5T"]
    assert character_error_rate(predictions, truths) == pytest.approx(1 / 5)
    assert positional_character_accuracy(predictions, truths) == pytest.approx(2 / 6)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError):
        sequence_accuracy(["A"], ["A", "B"])
