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


def _number(value) -> float | None:
    """A student's numeric answer as a float (int, numpy scalar, 0-d tensor), or None."""
    if isinstance(value, (str, bytes)) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _list(value) -> list | None:
    """A student's sequence answer (list, tuple, generator, array, tensor) as a list, or None."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        return [item.item() if hasattr(item, "item") else item for item in value]
    except TypeError:
        return None


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
        value = _number(got)
        if value is None or abs(value - expected) > 1e-6:
            positional = sum(a != b for a, b in zip(read.ljust(len(truth)), truth)) / len(truth)
            hint = ("that compares characters by position, so one missing or extra character shifts all the "
                    "rest; count insertions, deletions and substitutions (the edit distance)"
                    if value is not None and abs(value - positional) < 1e-6 else
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
        value = _number(got)
        if value is None or abs(value - expected) > 1e-6:
            lowest_right = min(c for c, ok in zip(confidences, correct) if ok)
            hint = ("that is the least confident right read, but accepting everything above it lets wrong reads "
                    "in too: check the accuracy of all the reads a threshold accepts"
                    if value is not None and abs(value - lowest_right) < 1e-6 else
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
        value = _number(got)
        if value is None or abs(value - expected) > 1e-6:
            hint = ("return a number" if value is None else
                    "with step / warmup_steps the first step has a learning rate of 0 and changes nothing; "
                    "count the step being taken: (step + 1) / warmup_steps" if step == 0 and value == 0 else
                    "after the warm-up the factor stays at 1: cap it" if value > 1 else
                    "rise in a straight line from 1 / warmup_steps at step 0 to 1 at the last warm-up step")
            return _verdict(False, "", f"warmup({step}, {steps}) gave {got!r}, expected {expected}: {hint}")
    return _verdict(True, f"all {len(WARMUP_CASES)} steps get the right share of the peak learning rate", "")


# (reads, truths, sequence accuracy)
ACCURACY_CASES = [(["8AE5T", "B2C3D"], ["8AE5T", "B2C3D"], 1.0), (["8AE5T", "B2C3X"], ["8AE5T", "B2C3D"], 0.5),
                  (["8AE5", "", "K7M9P"], ["8AE5T", "ABCDE", "K7M9P"], 1 / 3)]


def check_accuracy(accuracy: Callable[[list, list], float]) -> bool:
    """`accuracy(reads, truths)`: the share of images whose whole text is read right."""
    for reads, truths, expected in ACCURACY_CASES:
        got, error = _call(accuracy, list(reads), list(truths))
        if error:
            return _verdict(False, "", error)
        value = _number(got)
        if value is None or abs(value - expected) > 1e-6:
            hint = ("that counts right characters; a CAPTCHA counts only when every character is right"
                    if value is not None and value > expected else
                    "count the reads equal to their truth, then divide by the number of images")
            return _verdict(False, "", f"accuracy({reads}, {truths}) gave {got!r}, expected {expected:.4f}: {hint}")
    return _verdict(True, f"all {len(ACCURACY_CASES)} cases give the right sequence accuracy", "")


# (text, characters, classes): class 0 is CTC's blank, so characters start at 1
ENCODE_CASES = [("8AE", "38AE", [2, 3, 4]), ("AA", "AB", [1, 1]), ("", "AB", []), ("BA3", "3AB", [3, 2, 1])]


def check_encode(encode: Callable[[str, str], list]) -> bool:
    """`encode(text, characters)`: the class of each character, the blank being class 0."""
    for text, characters, expected in ENCODE_CASES:
        got, error = _call(encode, text, characters)
        if error:
            return _verdict(False, "", error)
        classes = _list(got)
        if classes != expected:
            hint = ("those are positions in `characters`, but class 0 is the blank: add 1"
                    if classes == [c - 1 for c in expected] else
                    "look each character up in `characters` and add 1 (class 0 is the blank)")
            return _verdict(False, "", f"encode({text!r}, {characters!r}) gave {got!r}, expected {expected}: {hint}")
    return _verdict(True, f"all {len(ENCODE_CASES)} texts encode to the right classes", "")


# (label, timesteps, number of CTC alignments that spell it)
ALIGNMENT_CASES = [("AB", 4, 15), ("AB", 2, 1), ("AA", 3, 1), ("AA", 4, 5), ("A", 3, 6), ("ABA", 3, 1), ("AA", 1, 0)]


def check_count_alignments(count: Callable[[str, int], int]) -> bool:
    """`count(label, timesteps)`: how many alignments (symbol per timestep, `_` the blank)
    collapse to `label`: merge repeats, then drop blanks."""
    for label, steps, expected in ALIGNMENT_CASES:
        got, error = _call(count, label, steps)
        if error:
            return _verdict(False, "", error)
        value = _number(got)
        if value != expected:
            hint = ("too many: merge repeats first, then drop blanks, so `A_AB` spells `AAB`, not `AB`; "
                    "a doubled letter needs a blank between its copies (`A_A`)"
                    if value is not None and value > expected else
                    "try every string of `timesteps` symbols from `_` and the label's characters, "
                    "collapse each, and count those that give the label")
            return _verdict(False, "", f"count({label!r}, {steps}) gave {got!r}, expected {expected}: {hint}")
    return _verdict(True, f"all {len(ALIGNMENT_CASES)} labels have the right number of alignments", "")


# (number of items, batch size): how a list is cut into batches
BATCH_CASES = [(10, 4), (8, 4), (3, 8), (0, 4), (1, 1)]


def check_batches(batches: Callable[[list, int], list]) -> bool:
    """`batches(items, size)`: the items in order, cut into lists of at most `size`."""
    for count, size in BATCH_CASES:
        items = [f"image{i}.png" for i in range(count)]
        got, error = _call(batches, list(items), size)
        if error:
            return _verdict(False, "", error)
        expected = [items[i:i + size] for i in range(0, count, size)]
        cut = [_list(batch) for batch in _list(got) or []]  # a generator is read once, here
        if cut != expected:
            flat = [item for batch in cut for item in batch or []]
            hint = ("the last, shorter batch is missing: its images would never be read"
                    if len(flat) < count else "keep the order, and cut every `size` items")
            return _verdict(False, "", f"{count} items in batches of {size} gave {cut!r}: {hint}")
    return _verdict(True, f"all {len(BATCH_CASES)} cases cut into the right batches", "")


# (number of items, processes). Unlike torch's DistributedSampler, which pads with repeated
# items so every share has the same length, each item goes to exactly one process.
SHARD_CASES = [(10, 2), (10, 3), (7, 4), (2, 4), (12, 1)]


def check_shard(shard: Callable[[list, int, int], list]) -> bool:
    """`shard(items, rank, world_size)`: the items process `rank` of `world_size` trains on;
    together the processes see every item exactly once, and their shares differ by at most one."""
    for count, world in SHARD_CASES:
        items = list(range(count))
        shares = []
        for rank in range(world):
            got, error = _call(shard, list(items), rank, world)
            if error:
                return _verdict(False, "", error)
            shares.append(_list(got) or [])
        seen = sorted(x for share in shares for x in share)
        sizes = [len(share) for share in shares]
        if seen != items or max(sizes) - min(sizes) > 1:
            hint = ("some items are in no share (a division that rounds down drops the remainder)" if len(seen) < count
                    else "an item is in two shares" if len(set(seen)) < len(seen) else
                    "the shares differ by more than one item: give them out in turn (rank, rank + world_size, ...)")
            return _verdict(False, "", f"{count} items over {world} processes gave {shares}: {hint}")
    return _verdict(True, f"all {len(SHARD_CASES)} cases give every item to exactly one process, evenly", "")
