import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from captcha_lib import label_from_path, list_images
from captcha_lib import ConfigError, DataError
from captcha_lib import STYLES, generate_dataset, render
from captcha_lib.data.generate import random_labels
from captcha_lib import parse_length
from captcha_lib.data.images import resize_image


def test_same_seed_same_labels_and_same_images(tmp_path):
    for name in ("a", "b"):
        generate_dataset(tmp_path / name, n_train=10, n_val=4, seed=3, workers=1)
    files_a = [p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png")]
    files_b = [p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.png")]
    assert sorted(files_a) == sorted(files_b) and len(files_a) == 14
    for rel in files_a:
        assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / rel)), np.asarray(Image.open(tmp_path / "b" / rel)))
    generate_dataset(tmp_path / "c", n_train=10, n_val=4, seed=4, workers=1)
    assert sorted(p.name for p in (tmp_path / "c").rglob("*.png")) != sorted(p.name for p in files_a)


def test_parallel_workers_write_the_same_files(tmp_path):
    generate_dataset(tmp_path / "one", n_train=220, n_val=0, seed=1, length=2, alphabet="AB12", workers=1)
    generate_dataset(tmp_path / "two", n_train=220, n_val=0, seed=1, length=2, alphabet="AB12", workers=2)
    one, two = list_images(tmp_path / "one" / "train"), list_images(tmp_path / "two" / "train")
    assert [p.name for p in one] == [p.name for p in two]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(one, two))
    assert any("_" in p.name for p in one)  # 16 possible labels, 220 images: copies get suffixes


def test_files_are_named_by_label_with_length_range_and_alphabet(tmp_path):
    generate_dataset(tmp_path, n_train=30, n_val=5, seed=0, length="4-7", alphabet="xyz9", workers=1)
    labels = [label_from_path(p) for p in list_images(tmp_path / "train")]
    assert len(labels) == 30 and set("".join(labels)) <= set("xyz9")
    assert {len(label) for label in labels} <= {4, 5, 6, 7} and len({len(label) for label in labels}) > 1


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders_deterministically(style):
    a, b = render("5bbzt", seed=11, style=style), render("5bbzt", seed=11, style=style)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(render("5bbzt", seed=12, style=style)))


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="length"):
        parse_length("x")
    with pytest.raises(ConfigError, match="length"):
        parse_length("5-3")
    with pytest.raises(ConfigError, match="alphabet"):
        generate_dataset(tmp_path / "x", 1, 1, alphabet="AB_")
    with pytest.raises(ConfigError, match="style"):
        generate_dataset(tmp_path / "y", 1, 1, style="fancy")
    generate_dataset(tmp_path / "z", 2, 1, workers=1)
    with pytest.raises(DataError, match="not empty"):
        generate_dataset(tmp_path / "z", 2, 1, workers=1)


def test_random_labels_fixed_length():
    labels = random_labels(50, random.Random(0), "AB", 3)
    assert all(len(label) == 3 and set(label) <= {"A", "B"} for label in labels)


def test_colour_and_wide_styles_draw_mixed_case_labels_of_4_to_8_in_many_fonts(tmp_path):
    from captcha_lib.data.styles import captcha_fonts
    from captcha_lib.defaults import MIXED_CASE_ALPHABET

    fonts = captcha_fonts()
    assert len(fonts) == 22 and len({Path(f).name.split("-")[0][:6] for f in fonts}) >= 5  # DejaVu, STIX, cm, Droid
    for style in ("colour", "wide"):
        generate_dataset(tmp_path / style, n_train=40, n_val=0, seed=0, style=style, workers=1)
        paths = list_images(tmp_path / style / "train")
        labels = [label_from_path(p) for p in paths]
        assert set("".join(labels)) <= set(MIXED_CASE_ALPHABET) and {len(x) for x in labels} <= set(range(4, 9))
        assert any(c.islower() for c in "".join(labels)) and any(c.isupper() for c in "".join(labels))
        sizes = [Image.open(p).size for p in paths]
        image = np.asarray(Image.open(paths[0]).convert("RGB")).astype(int)
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # colour, not grey
        if style == "wide":
            assert {h for _, h in sizes} == {80} and 280 <= min(w for w, _ in sizes) and max(w for w, _ in sizes) <= 690
        else:
            assert len({w for w, _ in sizes}) > 3  # the width grows with the text


def test_a_690x80_captcha_keeps_readable_glyphs():
    image = render("aB3dE5gH", seed=1, style="wide").resize((690, 80))
    resized = resize_image(np.asarray(image.convert("RGB")))
    assert resized.shape == (40, 352, 3)  # the aspect ratio kept: 44 pixels a character, not 19 at 150 wide


def test_a_test_split_is_rendered_apart_and_can_be_added_to_an_existing_set(tmp_path):
    counts = generate_dataset(tmp_path / "a", n_train=12, n_val=6, n_test=6, seed=0, workers=1)
    assert counts == {"train": 12, "val": 6, "test": 6}
    test = sorted(p.name for p in list_images(tmp_path / "a" / "test"))
    val = sorted(p.name for p in list_images(tmp_path / "a" / "val"))
    assert len(test) == 6 and test != val  # its own labels and images
    generate_dataset(tmp_path / "b", n_train=12, n_val=6, seed=0, workers=1)
    assert not (tmp_path / "b" / "test").exists()  # none asked for, no folder
    before = sorted(p.name for p in list_images(tmp_path / "b" / "train"))
    generate_dataset(tmp_path / "b", n_train=0, n_val=0, n_test=6, seed=0, workers=1)  # added later
    assert sorted(p.name for p in list_images(tmp_path / "b" / "test")) == test  # same seed, same test set
    assert all((tmp_path / "b" / "test" / name).read_bytes() == (tmp_path / "a" / "test" / name).read_bytes()
               for name in test)  # and the same pixels
    assert sorted(p.name for p in list_images(tmp_path / "b" / "train")) == before  # left alone
    with pytest.raises(DataError, match="not empty"):
        generate_dataset(tmp_path / "b", n_train=0, n_val=0, n_test=6, seed=0, workers=1)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_pool_workers_start_under_every_start_method(method, tmp_path):
    """The parent-death guard must not stop a worker whose parent is a fork server (Python 3.14's default)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from captcha_lib.data.generate import _die_with_parent

    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(2, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        assert list(pool.map(abs, [-1, -2, -3])) == [1, 2, 3]
