"""Prefix beam search against brute force (property-based), constraints, confidence, decoders."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from captcha_lib import (Decoder, accuracy_at_coverage, best_path, brute_force_decode, parse_decoder,
                                  prefix_beam_search, text_log_probability)
from captcha_lib import Vocabulary

WIDE = 10_000  # wider than the number of states of any input below: nothing is pruned


@st.composite
def log_probs(draw, max_steps=5, max_classes=4):
    """(T, C) log-probabilities of tiny alphabets and short sequences, blank at 0."""
    time_steps = draw(st.integers(1, max_steps))
    num_classes = draw(st.integers(2, max_classes))
    logits = draw(arrays(np.float64, (time_steps, num_classes), elements=st.floats(-6, 6)))
    return torch.log_softmax(torch.from_numpy(logits), dim=1).numpy()


def _unambiguous(log_probs: np.ndarray, margin: float = 1e-6) -> bool:
    """Every step has a single best class (greedy decoding is ill-defined on ties)."""
    top2 = np.sort(log_probs, axis=1)[:, -2:] if log_probs.shape[1] > 1 else None
    return top2 is None or bool(np.all(top2[:, 1] - top2[:, 0] > margin))


@settings(max_examples=300, deadline=None)
@given(log_probs())
def test_wide_beam_finds_the_exact_most_probable_text(lp):
    best_text, best_score = brute_force_decode(lp)
    beams = prefix_beam_search(lp, beam_width=WIDE)
    assert beams[0][1] == pytest.approx(best_score, abs=1e-9)  # ties between texts may pick either
    text, score = beams[0]
    exact = text_log_probability(torch.from_numpy(lp)[:, None], [list(text)]).item()
    assert score == pytest.approx(exact, abs=1e-6)  # the beam's score is the text's CTC probability
    assert math.fsum(math.exp(s) for _, s in beams) == pytest.approx(1.0, abs=1e-9)  # every alignment counted once


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(2, 6), st.data())
def test_numpy_ctc_forward_equals_torch_ctc_loss(time_steps, num_classes, data):
    batch = data.draw(st.integers(1, 4))
    logits = torch.from_numpy(data.draw(arrays(np.float64, (time_steps, batch, num_classes),
                                               elements=st.floats(-6, 6))))
    labels = [data.draw(st.lists(st.integers(1, num_classes - 1), max_size=7)) for _ in range(batch)]
    expected = -torch.nn.functional.ctc_loss(
        torch.log_softmax(logits, dim=2), torch.tensor([c for label in labels for c in label], dtype=torch.long),
        torch.full((batch,), time_steps), torch.tensor([len(label) for label in labels]),
        reduction="none", zero_infinity=False).numpy()
    np.testing.assert_allclose(text_log_probability(logits, labels), expected, atol=1e-6)  # -inf: cannot fit


@settings(max_examples=300, deadline=None)
@given(log_probs(max_steps=8, max_classes=6))
def test_beam_width_one_is_greedy(lp):
    assume(_unambiguous(lp))
    greedy = best_path(torch.from_numpy(lp)[:, None])[0]
    assert list(prefix_beam_search(lp, beam_width=1)[0][0]) == greedy


@settings(max_examples=200, deadline=None)
@given(log_probs(), st.data())
def test_wide_constrained_beam_finds_the_exact_most_probable_allowed_text(lp, data):
    time_steps, num_classes = lp.shape
    min_length = data.draw(st.integers(0, time_steps))
    max_length = data.draw(st.integers(min_length, time_steps))
    allowed = data.draw(st.sets(st.integers(1, num_classes - 1), min_size=1))
    exact = brute_force_decode(lp, min_length=min_length, max_length=max_length, allowed=allowed)
    beams = prefix_beam_search(lp, WIDE, min_length=min_length, max_length=max_length, allowed=allowed)
    if exact is None:
        assert beams == []
    else:
        text, score = beams[0]
        assert score == pytest.approx(exact[1], abs=1e-9)
        assert min_length <= len(text) <= max_length and set(text) <= allowed
        assert all(min_length <= len(t) <= max_length and set(t) <= allowed for t, _ in beams)


def _spell(path: str, vocab: Vocabulary, sharpness: float = 8.0) -> torch.Tensor:
    """(T, 1, C) logits that spell one alignment: '_' is the blank."""
    classes = [0 if ch == "_" else vocab.encode(ch)[0] for ch in path]
    return sharpness * torch.nn.functional.one_hot(torch.tensor(classes), vocab.num_classes).float()[:, None]


def test_beam_beats_greedy_where_one_text_has_many_alignments():
    # Two steps, each blank 0.6 and A 0.4. Greedy reads "" (one alignment: 0.6 * 0.6 = 0.36),
    # but "A" has three: A_, _A, AA = 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64.
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert best_path(torch.from_numpy(lp)[:, None])[0] == []
    (text, score), *_ = prefix_beam_search(lp, beam_width=4)
    assert text == (1,) and math.exp(score) == pytest.approx(0.64)


def test_doubled_letters_survive_beam_search():
    vocab = Vocabulary("5BZT")
    logits = _spell("5_BB_B_ZT", vocab)
    for decoder in (Decoder("greedy"), Decoder("beam", 4), Decoder("constrained", 4, 5, 5)):
        assert decoder.decode(logits, vocab)[0].text == "5BBZT"


def test_length_constraint_returns_the_best_text_of_that_length():
    vocab = Vocabulary("AB")
    logits = torch.tensor([[3.0, 2.5, 0.0], [0.0, 0.0, 3.0], [3.0, 0.0, 2.0]])[:, None]  # (T=3, 1, C=3)
    assert Decoder("greedy").decode(logits, vocab)[0].text == "B"
    constrained = Decoder("constrained", 8, min_length=2, max_length=2).decode(logits, vocab)[0]
    assert constrained.text == "AB"
    assert Decoder("constrained", 8, alphabet="A").decode(logits, vocab)[0].text == "A"


def test_confidence_is_the_probability_of_the_text():
    vocab = Vocabulary("AB")
    logits = torch.randn(6, 3, 3, generator=torch.Generator().manual_seed(0))  # (T, B, C)
    log_probs = torch.log_softmax(logits, dim=2).numpy()
    for decoder in (Decoder("greedy"), Decoder("beam", WIDE)):
        for b, reading in enumerate(decoder.decode(logits, vocab)):
            texts = dict(prefix_beam_search(log_probs[:, b], WIDE))  # every text with its exact probability
            assert reading.confidence == pytest.approx(math.exp(texts[tuple(vocab.encode(reading.text))]))
            assert 0.0 < reading.confidence <= 1.0


def test_a_text_that_cannot_fit_has_zero_probability():
    logits = torch.zeros(2, 1, 3)  # 2 steps cannot hold "AA" (needs a blank between) or 3 characters
    assert text_log_probability(logits, [[1, 1]]).item() == -math.inf
    assert text_log_probability(logits, [[1, 2]]).item() > -math.inf


def test_impossible_constraint_reads_empty_with_zero_confidence():
    vocab = Vocabulary("AB")
    reading = Decoder("constrained", 4, min_length=3, max_length=3).decode(torch.zeros(2, 1, 3), vocab)[0]
    assert (reading.text, reading.confidence) == ("", 0.0)


def test_accuracy_at_coverage_keeps_the_most_confident_reads():
    confidences = [0.99, 0.2, 0.9, 0.5]
    correct = [True, False, True, False]
    result = accuracy_at_coverage(confidences, correct, coverages=(1.0, 0.75, 0.5))
    assert result == {1.0: 0.5, 0.75: pytest.approx(2 / 3), 0.5: 1.0}


def test_parse_decoder():
    assert parse_decoder("greedy").name == "greedy"
    assert parse_decoder("beam:16").beam_width == 16
    assert parse_decoder("constrained", 5, 5).name == "constrained-8"
    for bad in ("viterbi", "beam:0", "beam:x"):
        with pytest.raises(ValueError, match=bad.split(":")[0]):
            parse_decoder(bad)
