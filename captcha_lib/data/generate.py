"""Synthetic CAPTCHAs, offline and reproducible.

Styles:
* `default`: the `captcha` package's ImageCaptcha as it comes (160x60, colour, its
  DroidSansMono font, warped and overlapping characters, noise dots and a curve).
* `lines`: a stand-in for the real-world sets users bring (the widely used one is
  200x50 grayscale PNGs with a noise line through the text): drawn here with PIL in
  matplotlib's DejaVu fonts, a different generator and different fonts.
* `gray`: the `captcha` package again, with DejaVu fonts at 200x50, turned to
  grayscale, with a noise line.
* `colour` and `wide` (styles.py): per-character colours and 22 fonts on coloured
  backgrounds; big glyphs on images up to 690 pixels wide. Both in upper and lower case,
  4-8 characters by default (`style_defaults`).
* `mix`: each image in one of the five styles above, drawn at random, its width growing
  with the text; every digit and ASCII letter. The pretrained reader learns from it.

`captcha` draws its randomness from the `secrets` module, which cannot be seeded. To
make "same seed, same images" true, each image is rendered with a seeded
`random.Random` standing in for `secrets` inside `captcha.image` (see `_SeededSecrets`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import random
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..defaults import DEFAULT_ALPHABET, DEFAULT_LENGTH, STYLE_ALPHABETS, STYLE_LENGTHS, STYLES
from ..errors import ConfigError, DataError
from .styles import RENDERERS
from .vocab import parse_length

# 0-9A-Z as in the reference, without 0/O and 1/I: in the captcha package's font, once warped,
# they are the same shape, and a quarter of 5-character labels would hold an unreadable one.


@functools.cache
def dejavu_fonts() -> list[str]:
    """The DejaVu fonts matplotlib ships: fonts every install has, no download."""
    import matplotlib  # imported here, like captcha below: checking options needs neither

    font_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [str(font_dir / name) for name in
            ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono-Bold.ttf")]


class _SeededSecrets:
    """The three `secrets` functions captcha.image calls, drawn from a seeded RNG."""

    def __init__(self, rng: random.Random):
        self.randbelow = rng.randrange
        self.randbits = rng.getrandbits
        self.choice = rng.choice


_secrets_lock = threading.Lock()


@contextlib.contextmanager
def _seeded_captcha(rng: random.Random):
    """`captcha.image.secrets` is a module global: swap it under a lock, so two threads
    rendering at once never draw from each other's generator."""
    import captcha.image

    with _secrets_lock:
        original = captcha.image.secrets
        captcha.image.secrets = _SeededSecrets(rng)
        try:
            yield
        finally:
            captcha.image.secrets = original


MIX_STYLES = ("default", "lines", "gray", "colour", "wide")  # what `mix` draws from


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ConfigError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    return style


def style_defaults(style: str) -> tuple[str, str]:
    """(alphabet, length) of `style`'s labels unless told otherwise."""
    return STYLE_ALPHABETS.get(style, DEFAULT_ALPHABET), STYLE_LENGTHS.get(style, str(DEFAULT_LENGTH))


def check_alphabet(alphabet: str) -> str:
    """Generated labels become file names: distinct characters a file name can hold, no `_` (the copy suffix)."""
    if (not alphabet or "_" in alphabet or any(c in alphabet for c in '/\\.:*?"<>|')
            or any(c.isspace() or not c.isprintable() for c in alphabet) or len(set(alphabet)) < len(alphabet)):
        raise ConfigError(f"alphabet {alphabet!r} must be distinct printable characters allowed in file names, "
                          f"without '_' or spaces")
    return alphabet


def random_labels(count: int, rng: random.Random, alphabet: str = DEFAULT_ALPHABET,
                  length: int | str = DEFAULT_LENGTH) -> list[str]:
    low, high = parse_length(length)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(low, high))) for _ in range(count)]


def render(text: str, seed: int | str, style: str = "default", stretch: bool = False) -> Image.Image:
    """One CAPTCHA image of `text`; the same (text, seed, style) gives the same pixels.

    `stretch`: the fixed-size styles (default, lines, gray) grow wider for texts longer
    than 5 characters, as `mix` draws them."""
    from captcha.image import ImageCaptcha

    rng = random.Random(seed)
    if style == "mix":
        style, stretch = rng.choice(MIX_STYLES), True
    stretch = max(1.0, len(text) / 5) if stretch else 1.0
    if style == "default":
        with _seeded_captcha(rng):
            return ImageCaptcha(width=int(160 * stretch)).generate_image(text)
    if style == "gray":
        with _seeded_captcha(rng):
            image = ImageCaptcha(width=int(200 * stretch), height=50, fonts=dejavu_fonts(),
                                 font_sizes=(34, 38, 42)).generate_image(text)
        return _noise_line(image.convert("L"), rng)
    if style == "lines":
        return _render_lines(text, rng, (int(200 * stretch), 50))
    if style in RENDERERS:
        return RENDERERS[style](text, rng)
    check_style(style)
    raise AssertionError(f"style {style!r} has no renderer")


def _render_lines(text: str, rng: random.Random, size=(200, 50)) -> Image.Image:
    image = Image.new("L", size, color=rng.randint(215, 255))
    font = ImageFont.truetype(rng.choice(dejavu_fonts()), rng.randint(26, 32))
    draw = ImageDraw.Draw(image)
    advance = (size[0] - 30) / max(len(text), 5)  # short labels keep real-set spacing
    x = rng.uniform(8, 22)
    for char in text:
        draw.text((x + rng.uniform(-2, 2), rng.uniform(4, 14)), char, font=font, fill=rng.randint(0, 90))
        x += advance * rng.uniform(0.85, 1.1)
    image = _noise_line(image, rng)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.7)))


def _noise_line(image: Image.Image, rng: random.Random) -> Image.Image:
    """A dark line across the text, like the real sets' strike-through noise."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    points = [(x, height / 2 + rng.uniform(-height / 4, height / 4)) for x in range(0, width + 1, width // 4)]
    draw.line(points, fill=rng.randint(20, 100), width=rng.randint(1, 3))
    return image


def _die_with_parent(parent_pid: int) -> None:
    """Pool initializer: on Linux, ask the kernel to stop this worker when the process that
    started it dies, even by `kill -9` (which the parent cannot catch to stop its pool).
    SIGKILL, because a worker has nothing to save and inherits the command's SIGTERM handler."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    try:  # the parent died before the request was made (its pid, not getppid: a forkserver may sit between)
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        os._exit(1)
    except PermissionError:
        pass  # alive, another user's


def _render_to_file(job: tuple[str, str, str, str]) -> None:
    text, seed, style, path = job
    render(text, seed, style).save(path)


def generate_dataset(out_dir: str | Path, n_train: int, n_val: int, seed: int = 0,
                     length: int | str | None = None, alphabet: str | None = None,
                     style: str = "default", workers: int | None = None, n_test: int = 0) -> dict[str, int]:
    """Write `out_dir/train`, `out_dir/val` and, if `n_test`, `out_dir/test`, files named by
    label (`8AE5T.png`). Validation chooses the epoch a run keeps; the test images take part
    in no choice, so their accuracy is the one to report (notebook 05). A split of 0 images
    gets no folder and leaves an existing one as it is, so a split can be added to a set.

    `alphabet` and `length` default to the style's (`style_defaults`). A label drawn twice
    gets a suffix (`8AE5T_1.png`). Every image has its own seed, derived from (seed, split,
    index), so parallel workers give the same files.
    """
    check_style(style)
    alphabet = alphabet or style_defaults(style)[0]
    length = length or style_defaults(style)[1]
    check_alphabet(alphabet)
    parse_length(length)
    splits = (("train", n_train), ("val", n_val), ("test", n_test))
    for split, count in splits:
        if not isinstance(count, int) or count < 0:
            raise ConfigError(f"the number of {split} images must be 0 or more, got {count!r}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file; generate into a folder")
    jobs = []
    for split, count in splits:
        folder = out_dir / split
        if not count:
            continue  # nothing asked for this split: no folder made, an existing one left alone
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {folder} ({exc.strerror})") from None
        if any(folder.iterdir()):
            raise DataError(f"{folder} is not empty; generate into a new folder")
        labels = random_labels(count, random.Random(f"{seed}-{split}-labels"), alphabet, length)
        seen: dict[str, int] = {}
        for index, label in enumerate(labels):
            copy = seen.get(label, 0)
            seen[label] = copy + 1
            name = f"{label}_{copy}.png" if copy else f"{label}.png"
            jobs.append((label, f"{seed}-{split}-{index}", style, str(folder / name)))
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(jobs) > 200:
        with ProcessPoolExecutor(workers, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            list(pool.map(_render_to_file, jobs, chunksize=64))
    else:
        for job in jobs:
            _render_to_file(job)
    return {"train": n_train, "val": n_val, "test": n_test}
