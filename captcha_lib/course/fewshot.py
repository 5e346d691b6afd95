"""A few labelled images out of a labelled set: what notebook 08 and benchmarks/few_shot.py
train on, so both draw the same images for the same seed."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from ..data.labels import list_images


def labelled_subset(data_dir: str | Path, size: int | None, seed: int, into: str | Path) -> tuple[Path, Path]:
    """(INTO/labelled, INTO/unlabelled): `size` images of DATA_DIR/train drawn with `seed`
    (all of them for None), and the rest, as links to the originals (copies where links
    are not allowed). INTO is emptied first."""
    paths = list_images(Path(data_dir) / "train")
    random.Random(seed).shuffle(paths)
    size = len(paths) if size is None else size
    into = Path(into)
    shutil.rmtree(into, ignore_errors=True)
    for name, chosen in (("labelled", paths[:size]), ("unlabelled", paths[size:])):
        (into / name).mkdir(parents=True)
        for path in chosen:
            try:
                (into / name / path.name).symlink_to(path.resolve())
            except OSError:  # e.g. Windows without the right to make links
                shutil.copyfile(path, into / name / path.name)
    return into / "labelled", into / "unlabelled"
