"""Stand-ins for the CAPTCHAs people bring, drawn with Pillow in fonts the dependencies ship.

* `colour`: every character in its own colour and font, rotated, on a coloured background,
  with crossing lines, circles and noise dots; upper and lower case, 4-8 characters, the
  width growing with the text (about 150-330 pixels at 60 high).
* `wide`: big glyphs spread over 285-690 x 80 pixels, 4-8 characters in both cases, a
  different font per image, thin strike-through curves and speckle.

Fonts (`captcha_fonts`, no download): matplotlib's DejaVu Sans, Sans Mono and Serif and
STIX General (each regular, bold, italic and bold italic), its Computer Modern Roman, Bold,
Sans, Typewriter and Italic, and the `captcha` package's Droid Sans Mono: 22 fonts.

Each style's labels use letters whose capital and small forms differ in shape, not only in
size (no c/C, o/O, s/S, ...): the image must say which case a character is in, because the
label does. `defaults.STYLE_ALPHABETS` holds them.
"""

from __future__ import annotations

import colorsys
import functools
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont


@functools.cache
def captcha_fonts() -> tuple[str, ...]:
    """The 22 TrueType fonts of the dependencies that draw Latin letters and digits."""
    import captcha
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    names = [f"DejaVu{family}{variant}.ttf" for family in ("Sans", "SansMono", "Serif")
             for variant in ("", "-Bold", "-Oblique" if family != "Serif" else "-Italic",
                             "-BoldOblique" if family != "Serif" else "-BoldItalic")]
    names += ["STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
              "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf"]
    fonts = [str(ttf / name) for name in names]
    fonts.append(str(Path(captcha.__file__).parent / "data" / "DroidSansMono.ttf"))
    return tuple(font for font in fonts if Path(font).is_file())


@functools.cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _colour(rng: random.Random, lightness: float, saturation: tuple[float, float] = (0.4, 1.0)) -> tuple[int, ...]:
    red, green, blue = colorsys.hls_to_rgb(rng.random(), lightness, rng.uniform(*saturation))
    return int(red * 255), int(green * 255), int(blue * 255)


def _glyph(char: str, font: ImageFont.FreeTypeFont, colour: tuple[int, ...], angle: float) -> Image.Image:
    """One character on a transparent tile, rotated, cropped to its ink."""
    left, top, right, bottom = font.getbbox(char)
    tile = Image.new("RGBA", (right - left + 8, bottom - top + 8), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((4 - left, 4 - top), char, font=font, fill=(*colour, 255))
    tile = tile.rotate(angle, resample=Image.BICUBIC, expand=True)
    return tile.crop(tile.getbbox() or (0, 0, 1, 1))


def _place_text(image: Image.Image, text: str, rng: random.Random, fonts: list[str], sizes: tuple[int, int],
                colours, angles: float, margin: float, spacing: tuple[float, float]) -> None:
    """Glyphs left to right across `image`, each in its own font, size, colour and angle,
    spread over the width with a little jitter (neighbours may touch, never swap order)."""
    glyphs = [_glyph(char, _font(rng.choice(fonts), rng.randint(*sizes)), colours(), rng.uniform(-angles, angles))
              for char in text]
    width, height = image.size
    gaps = [rng.uniform(*spacing) for _ in glyphs[1:]]
    total = sum(g.width for g in glyphs) + sum(gaps)
    x = rng.uniform(margin, max(margin, width - margin - total))
    scale = min(1.0, (width - 2 * margin) / total)  # too long for the width: close up the gaps and glyphs
    for glyph, gap in zip(glyphs, gaps + [0.0]):
        if scale < 1.0:
            glyph = glyph.resize((max(1, int(glyph.width * scale)), glyph.height), Image.BICUBIC)
        y = rng.uniform(0, max(0, height - glyph.height))
        image.paste(glyph, (int(x), int(y)), glyph)
        x += glyph.width + gap * scale


def render_colour(text: str, rng: random.Random) -> Image.Image:
    """Per-character colours and fonts on a coloured background, with lines, circles and dots."""
    height = 60
    width = int(34 * len(text) + rng.uniform(20, 60))
    dark_background = rng.random() < 0.3
    background = _colour(rng, rng.uniform(0.12, 0.25) if dark_background else rng.uniform(0.78, 0.92), (0.2, 0.7))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    ink = (lambda: _colour(rng, rng.uniform(0.62, 0.85))) if dark_background else \
          (lambda: _colour(rng, rng.uniform(0.15, 0.45)))
    for _ in range(rng.randint(3, 7)):  # circles behind the text
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(4, 18)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink(), width=rng.randint(1, 2))
    _place_text(image, text, rng, list(captcha_fonts()), (30, 42), ink, angles=30, margin=6, spacing=(-3, 6))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 4)):  # lines across the text
        draw.line([(rng.uniform(0, width / 3), rng.uniform(0, height)),
                   (rng.uniform(2 * width / 3, width), rng.uniform(0, height))], fill=ink(), width=rng.randint(1, 2))
    for _ in range(width * height // 60):  # noise dots
        draw.point((rng.randrange(width), rng.randrange(height)), fill=ink())
    return image


def render_wide(text: str, rng: random.Random) -> Image.Image:
    """Big glyphs spread over a wide image (285-690 pixels for 4-8 characters), 80 high."""
    height = 80
    width = min(690, int(rng.uniform(71, 86) * len(text)))
    image = Image.new("RGB", (width, height), _colour(rng, rng.uniform(0.85, 0.97), (0.0, 0.4)))
    fonts = [rng.choice(captcha_fonts())]  # one font an image, as a site uses
    ink = _colour(rng, rng.uniform(0.1, 0.35), (0.0, 0.6))
    _place_text(image, text, rng, fonts, (44, 58), lambda: ink, angles=12, margin=10, spacing=(10, 40))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(1, 2)):  # thin curves through the text
        points = [(x, height / 2 + rng.uniform(-height / 3, height / 3)) for x in range(0, width + 40, 40)]
        draw.line(points, fill=ink, width=rng.randint(1, 3))
    for _ in range(width * height // 150):  # speckle
        draw.point((rng.randrange(width), rng.randrange(height)), fill=ink)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.8)))


RENDERERS = {"colour": render_colour, "wide": render_wide}
