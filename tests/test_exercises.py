"""The notebooks' exercise checks accept a right answer and reject the typical wrong one."""
from itertools import groupby

from captcha_lib.course.exercises import check_cer, check_collapse, check_threshold


def right_collapse(alignment: str) -> str:
    return "".join(symbol for symbol, _ in groupby(alignment)).replace("_", "")


def drop_then_merge(alignment: str) -> str:  # the reference notebook's order
    return "".join(symbol for symbol, _ in groupby(alignment.replace("_", "")))


def right_cer(read: str, truth: str) -> float:
    previous = list(range(len(truth) + 1))
    for i, a in enumerate(read, 1):
        current = [i]
        for j, b in enumerate(truth, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / len(truth)


def positional_cer(read: str, truth: str) -> float:
    return sum(a != b for a, b in zip(read.ljust(len(truth)), truth)) / len(truth)


def unwritten(*_):
    raise NotImplementedError


def test_check_collapse(capsys):
    assert check_collapse(right_collapse)
    assert not check_collapse(drop_then_merge)
    assert "dropped the blanks before merging" in capsys.readouterr().out
    assert not check_collapse(unwritten)
    assert "not written yet" in capsys.readouterr().out


def test_check_cer(capsys):
    assert check_cer(right_cer)
    assert not check_cer(positional_cer)
    assert "compares characters by position" in capsys.readouterr().out
    assert not check_cer(lambda read, truth: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def right_threshold(confidences, correct, target):
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    best = 1.01
    for k in range(1, len(order) + 1):
        accepted = [correct[i] for i in order[:k]]
        tied_next = k < len(order) and confidences[order[k]] == confidences[order[k - 1]]
        if not tied_next and sum(accepted) / k >= target:
            best = confidences[order[k - 1]]
    return best


def lowest_right_read(confidences, correct, target):
    return min(c for c, ok in zip(confidences, correct) if ok)


def test_check_threshold(capsys):
    assert check_threshold(right_threshold)
    assert not check_threshold(lowest_right_read)
    assert "lets wrong reads in too" in capsys.readouterr().out
    assert not check_threshold(unwritten)


def right_warmup(step: int, warmup_steps: int) -> float:
    return min(1.0, (step + 1) / warmup_steps)


def warmup_from_zero(step: int, warmup_steps: int) -> float:  # the first step then changes nothing
    return min(1.0, step / warmup_steps)


def uncapped_warmup(step: int, warmup_steps: int) -> float:
    return (step + 1) / warmup_steps


def test_check_warmup(capsys):
    from captcha_lib.course.exercises import check_warmup
    from captcha_lib.training.schedule import warmup_cosine

    assert check_warmup(right_warmup)
    assert all(abs(right_warmup(s, 100) - warmup_cosine(s, 100, 0.0)) < 1e-12 for s in range(200))  # the library's
    assert not check_warmup(warmup_from_zero)
    assert "learning rate of 0" in capsys.readouterr().out
    assert not check_warmup(uncapped_warmup)
    assert "cap it" in capsys.readouterr().out
    assert not check_warmup(unwritten)


def test_check_accuracy(capsys):
    from captcha_lib.course.exercises import check_accuracy

    assert check_accuracy(lambda reads, truths: sum(r == t for r, t in zip(reads, truths)) / len(truths))
    per_character = lambda reads, truths: (sum(a == b for r, t in zip(reads, truths) for a, b in zip(r, t))  # noqa: E731
                                           / sum(len(t) for t in truths))
    assert not check_accuracy(per_character)
    assert "counts right characters" in capsys.readouterr().out


def test_check_encode(capsys):
    from captcha_lib.course.exercises import check_encode

    assert check_encode(lambda text, characters: [characters.index(c) + 1 for c in text])
    assert not check_encode(lambda text, characters: [characters.index(c) for c in text])  # forgets the blank
    assert "class 0 is the blank" in capsys.readouterr().out


def count_by_brute_force(label: str, steps: int) -> int:
    from itertools import groupby, product

    symbols = "_" + "".join(sorted(set(label)))
    return sum("".join(s for s, _ in groupby(path)).replace("_", "") == label
               for path in product(symbols, repeat=steps))


def test_check_count_alignments(capsys):
    import numpy as np

    from captcha_lib.course.diagrams import ctc_lattice
    from captcha_lib.course.exercises import ALIGNMENT_CASES, check_count_alignments

    for label, steps, expected in ALIGNMENT_CASES:  # the cases agree with CTC's own lattice
        classes = [ord(c) - ord("A") + 1 for c in label]
        assert ctc_lattice(np.ones((steps, 4)), classes)[2] == expected == count_by_brute_force(label, steps)
    assert check_count_alignments(count_by_brute_force)

    def drop_then_merge(label, steps):  # the order the reference notebook used
        from itertools import groupby, product

        symbols = "_" + "".join(sorted(set(label)))
        return sum("".join(s for s, _ in groupby("".join(path).replace("_", ""))) == label
                   for path in product(symbols, repeat=steps))

    assert not check_count_alignments(drop_then_merge)
    assert "merge repeats first" in capsys.readouterr().out


def test_check_batches(capsys):
    from captcha_lib.course.exercises import check_batches

    assert check_batches(lambda items, size: [items[i:i + size] for i in range(0, len(items), size)])
    assert not check_batches(lambda items, size: [items[i * size:(i + 1) * size] for i in range(len(items) // size)])
    assert "last, shorter batch" in capsys.readouterr().out


def test_check_shard(capsys):
    from captcha_lib.course.exercises import check_shard

    assert check_shard(lambda items, rank, world: items[rank::world])
    chunk = lambda items, rank, world: items[rank * (len(items) // world):(rank + 1) * (len(items) // world)]  # noqa: E731
    assert not check_shard(chunk)
    assert "rounds down" in capsys.readouterr().out


def test_checks_take_numbers_and_sequences_in_any_form_and_never_raise(capsys):
    import numpy as np
    import torch

    from captcha_lib.course.exercises import (check_accuracy, check_batches, check_encode, check_shard,
                                              check_warmup)

    assert check_accuracy(lambda reads, truths: torch.tensor([r == t for r, t in zip(reads, truths)]).float().mean())
    assert check_warmup(lambda step, steps: np.float32(min(1.0, (step + 1) / steps)) * 1.0)
    assert check_encode(lambda text, characters: torch.tensor([characters.index(c) + 1 for c in text]))
    assert check_batches(lambda items, size: (items[i:i + size] for i in range(0, len(items), size)))
    assert check_shard(lambda items, rank, world: np.array(items[rank::world], dtype=int))
    for check in (check_accuracy, check_warmup):
        assert not check(lambda *args: None)  # forgot `return`
        assert not check(lambda *args: "0.5")
    assert not check_encode(lambda *args: None)
    assert not check_batches(lambda items, size: ([b for b in items[i:i + size]] for i in range(0, len(items) - size + 1, size)))
    assert "last, shorter batch" in capsys.readouterr().out
