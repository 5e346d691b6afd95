import pytest
import torch

from captcha_lib import GREEDY, best_path, ctc_loss, min_time_steps
from captcha_lib import Vocabulary

VOCAB = Vocabulary("25ABTbz")  # classes: blank=0, '2'=1, '5'=2, 'A'=3, 'B'=4, 'T'=5, 'b'=6, 'z'=7


def logits_for(*paths: str) -> torch.Tensor:
    """Hand-built (T, B, C) logits whose argmax spells each path; '_' is the blank."""
    steps = len(paths[0])
    logits = torch.zeros(steps, len(paths), VOCAB.num_classes)
    for b, path in enumerate(paths):
        for t, char in enumerate(path):
            logits[t, b, 0 if char == "_" else VOCAB.encode(char)[0]] = 5.0
    return logits


def test_merge_repeats_before_dropping_blanks():
    assert GREEDY.texts(logits_for("AA_A"), VOCAB) == ["AA"]
    assert GREEDY.texts(logits_for("AAAA"), VOCAB) == ["A"]


def test_doubled_letters_survive_and_batch_is_decoded_row_by_row():
    paths = ("5_bb_b_zz_T_", "__2__A__B___", "____________")
    assert GREEDY.texts(logits_for(*paths), VOCAB) == ["5bbzT", "2AB", ""]


def test_best_path_returns_class_indices():
    assert best_path(logits_for("_AA__B_")) == [[3, 4]]


def test_ctc_loss_concatenated_targets_of_different_lengths_match_single_losses():
    torch.manual_seed(0)
    logits = torch.randn(12, 3, VOCAB.num_classes)
    labels = ["AB", "25bz", "T"]
    targets = torch.tensor([c for label in labels for c in VOCAB.encode(label)])
    lengths = torch.tensor([len(label) for label in labels])
    batch_loss = ctc_loss(logits, targets, lengths)
    singles = [ctc_loss(logits[:, i:i + 1], torch.tensor(VOCAB.encode(label)), torch.tensor([len(label)]))
               for i, label in enumerate(labels)]
    assert torch.isfinite(batch_loss)
    assert batch_loss.item() == pytest.approx(torch.stack(singles).mean().item(), rel=1e-5)


def test_ctc_loss_is_lower_for_the_spelled_label():
    logits = logits_for("_5_bb_b_z_T_")
    right = ctc_loss(logits, torch.tensor(VOCAB.encode("5bbzT")), torch.tensor([5]))
    wrong = ctc_loss(logits, torch.tensor(VOCAB.encode("5bzT")), torch.tensor([4]))
    assert right < wrong


@pytest.mark.parametrize("label,needed", [("5bzt", 4), ("5bbzt", 6), ("aaa", 5)])
def test_min_time_steps_is_where_ctc_stops_being_possible(label, needed):
    assert min_time_steps(label) == needed
    vocabulary = Vocabulary("5abtz")
    targets = torch.tensor(vocabulary.encode(label))
    for steps, possible in ((needed, True), (needed - 1, False)):
        log_probs = torch.randn(steps, 1, vocabulary.num_classes).log_softmax(2)  # (T, 1, C)
        loss = torch.nn.functional.ctc_loss(log_probs, targets[None], torch.tensor([steps]), torch.tensor([len(label)]))
        assert torch.isfinite(loss).item() is possible


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_ctc_loss_on_cuda():
    logits = torch.randn(12, 2, VOCAB.num_classes, device="cuda")
    loss = ctc_loss(logits, torch.tensor([1, 2, 3]), torch.tensor([2, 1]))
    assert loss.device.type == "cuda" and torch.isfinite(loss)


@pytest.mark.parametrize("label", [[1, 2], [1, 1], [2, 1, 2, 2]])
def test_the_lattice_notebook_02_draws_sums_to_ctc_and_counts_every_alignment(label):
    import numpy as np

    from captcha_lib.course.diagrams import ctc_lattice

    torch.manual_seed(len(label))
    logits = torch.randn(9, 1, 3)
    alpha, beta, total = ctc_lattice(logits.softmax(2)[:, 0].double().numpy(), label)
    loss = ctc_loss(logits, torch.tensor([label]), torch.tensor([len(label)]))
    assert np.isclose(-np.log(total) / len(label), loss.item(), rtol=1e-5)
    from captcha_lib.decoding.decoders import text_log_probability

    assert np.isclose(np.log(total), text_log_probability(logits, [label])[0], rtol=1e-6)  # the library's pass
    assert np.allclose((alpha * beta / total).sum(axis=0), 1.0)  # every path passes one node per timestep
    assert ctc_lattice(np.ones((4, 3)), [1, 2])[2] == 15  # the 15 alignments of 'AB' listed in notebook 02
