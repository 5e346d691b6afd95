"""Checks for the notebooks' code exercises: the student writes a function, a check says
right or wrong, with a hint for the mistake it sees. A check prints, it never raises, so
a notebook with an unfinished exercise still runs to the end.

    from captcha_lib.course.exercises import check_collapse
    check_collapse(my_collapse)   # -> "right: ..." or "not yet: ..."

The tests hold a right answer and a typical wrong one for every check.
"""

from __future__ import annotations

from collections.abc import Callable

# (alignment with "_" for the blank, the text it spells): the cases a collapse must get right
COLLAPSE_CASES = [("AA_A", "AA"), ("__A__", "A"), ("5_bb_b_zt", "5bbzt"), ("AAB_", "AB"), ("____", ""),
                  ("A_A_A", "AAA"), ("8AE5T", "8AE5T")]

# (read, truth, character error rate)
CER_CASES = [("8AE5T", "8AE5T", 0.0), ("8AAE5T", "8AE5T", 0.2), ("AE5T", "8AE5T", 0.2), ("8AE5X", "8AE5T", 0.2),
             ("", "8AE5T", 1.0), ("TE5A8", "8AE5T", 0.8)]


def _verdict(ok: bool, right: str, wrong: str) -> bool:
    print(f"right: {right}" if ok else f"not yet: {wrong}")
    return ok


def _call(function: Callable, *args):
    try:
        return function(*args), None
    except NotImplementedError:
        return None, "the function is not written yet (it raises NotImplementedError)"
    except Exception as exc:  # noqa: BLE001 - a student's code may raise anything: say what
        return None, f"it raised {type(exc).__name__}: {exc}"


def check_collapse(collapse: Callable[[str], str]) -> bool:
    """`collapse("AA_A")` must give "AA": merge repeated symbols, then drop the blanks "_"."""
    for alignment, text in COLLAPSE_CASES:
        got, error = _call(collapse, alignment)
        if error:
            return _verdict(False, "", error)
        if got != text:
            hint = ("you dropped the blanks before merging repeats, so the blank between two A's no longer "
                    "separates them" if alignment == "AA_A" and got == "A" else
                    "merge runs of the same symbol into one, then remove every '_'")
            return _verdict(False, "", f"collapse({alignment!r}) gave {got!r}, expected {text!r}: {hint}")
    return _verdict(True, f"all {len(COLLAPSE_CASES)} alignments collapse to their text, doubled letters included",
                    "")


def check_cer(cer: Callable[[str, str], float]) -> bool:
    """`cer(read, truth)` must give the edit distance between them divided by len(truth)."""
    for read, truth, expected in CER_CASES:
        got, error = _call(cer, read, truth)
        if error:
            return _verdict(False, "", error)
        if not isinstance(got, (int, float)) or abs(got - expected) > 1e-9:
            positional = sum(a != b for a, b in zip(read.ljust(len(truth)), truth)) / len(truth)
            hint = ("that compares characters by position, so one missing or extra character shifts all the "
                    "rest; count insertions, deletions and substitutions (the edit distance)"
                    if isinstance(got, (int, float)) and abs(got - positional) < 1e-9 else
                    "divide the fewest insertions, deletions and substitutions that turn the read into the "
                    "truth by the truth's length")
            return _verdict(False, "", f"cer({read!r}, {truth!r}) gave {got!r}, expected {expected}: {hint}")
    return _verdict(True, f"all {len(CER_CASES)} pairs give the right character error rate", "")


# (confidences, right or wrong, target accuracy, the threshold): the lowest threshold whose
# accepted reads (confidence >= it) are at least that accurate, never splitting tied scores
THRESHOLD_CASES = [([0.99, 0.9, 0.6, 0.6, 0.1], [True, True, True, False, False], 1.0, 0.9),
                   ([0.99, 0.9, 0.6, 0.6, 0.1], [True, True, True, False, False], 0.75, 0.6),
                   ([0.99, 0.9, 0.6, 0.6, 0.1], [True, True, True, False, False], 0.5, 0.1),
                   ([0.3, 0.95, 0.8, 0.7], [True, True, False, True], 0.75, 0.3)]


def check_threshold(choose: Callable[[list, list, float], float]) -> bool:
    """`choose(confidences, correct, target)`: the lowest confidence threshold whose accepted
    reads are at least `target` right."""
    for confidences, correct, target, expected in THRESHOLD_CASES:
        got, error = _call(choose, list(confidences), list(correct), target)
        if error:
            return _verdict(False, "", error)
        if not isinstance(got, (int, float)) or abs(got - expected) > 1e-9:
            lowest_right = min(c for c, ok in zip(confidences, correct) if ok)
            hint = ("that is the least confident right read, but accepting everything above it lets wrong reads "
                    "in too: check the accuracy of all the reads a threshold accepts"
                    if isinstance(got, (int, float)) and abs(got - lowest_right) < 1e-9 else
                    "sort the reads by confidence, most confident first; accept as many as you can while the "
                    "accepted ones stay at least `target` right; a threshold accepts every read tied with it")
            return _verdict(False, "", f"for confidences {confidences} and target {target} you gave {got!r}, "
                                       f"expected {expected}: {hint}")
    return _verdict(True, f"all {len(THRESHOLD_CASES)} cases pick the threshold that meets the target", "")


# (step, warm-up steps, factor): the learning rate's share of its peak during a linear warm-up
WARMUP_CASES = [(0, 100, 0.01), (49, 100, 0.5), (99, 100, 1.0), (100, 100, 1.0), (5000, 100, 1.0), (0, 1, 1.0)]


def check_warmup(warmup: Callable[[int, int], float]) -> bool:
    """`warmup(step, warmup_steps)`: the factor on the peak learning rate at `step` (counted
    from 0) of a linear warm-up: (step + 1) / warmup_steps, then 1."""
    for step, steps, expected in WARMUP_CASES:
        got, error = _call(warmup, step, steps)
        if error:
            return _verdict(False, "", error)
        if not isinstance(got, (int, float)) or abs(got - expected) > 1e-9:
            hint = ("with step / warmup_steps the first step has a learning rate of 0 and changes nothing; "
                    "count the step being taken: (step + 1) / warmup_steps" if step == 0 and got == 0 else
                    "after the warm-up the factor stays at 1: cap it" if got > 1 else
                    "rise in a straight line from 1 / warmup_steps at step 0 to 1 at the last warm-up step")
            return _verdict(False, "", f"warmup({step}, {steps}) gave {got!r}, expected {expected}: {hint}")
    return _verdict(True, f"all {len(WARMUP_CASES)} steps get the right share of the peak learning rate", "")
