"""Image in, model input out, with numpy and Pillow only.

Training, `predict`, the ONNX runtime and the HTTP service all call these functions, so
every path sees the same pixels. Nothing here imports torch or OpenCV: an exported model
runs with numpy, Pillow and onnxruntime alone.

    load_image(x)           path, bytes, PIL image or array -> (H, W, 3) uint8 RGB
    resize_image(rgb)       -> (40, w, 3) uint8: 40 pixels high, the width that keeps the
                            aspect ratio (a multiple of 16, at most 512), bilinear
    normalize_image(small)  -> (3, 40, w) float32, ImageNet mean and std, channels first
    preprocess(x)           all three: what training and every reader feed the model
    pad_batch(images)       (3, 40, w_i) arrays -> (B, 3, 40, max w) and each image's width

Images keep their aspect ratio, so a 690x80 CAPTCHA of 8 characters stays as readable
as a 200x50 one of 5 (a fixed size would squeeze its glyphs to a third of their width).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..defaults import IMAGE_SIZE, MAX_PIXELS
from ..errors import ConfigError, ImageError, ImageTooLargeError, NotAnImageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

def load_image(image: str | Path | bytes | Image.Image | np.ndarray, max_pixels: int = MAX_PIXELS,
               name: str | None = None) -> np.ndarray:
    """A path, encoded bytes, PIL image or array -> RGB uint8 array (H, W, 3).

    Every Pillow mode becomes RGB (`to_rgb`): 16- and 32-bit integer and float grayscale
    scaled to 0-255, transparency composited on white. A file that is not a readable image,
    one cut off or with damaged data, or one with more than `max_pixels` pixels raises an
    ImageError naming it: training, `predict`, the readers and the service share this one
    strict policy (a half-decoded CAPTCHA is a wrong label or a wrong read, silently).
    `name` is what error messages call the image (default: its path, or "the image").
    """
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    if isinstance(image, Image.Image):
        _check_pixels(image, name or "the image", max_pixels)
        return to_rgb(image)
    source = name or ("the image" if isinstance(image, (bytes, bytearray)) else str(image))
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise ImageError(f"{source} is empty (0 bytes)")
        image = io.BytesIO(image)
    try:
        with Image.open(image) as pil_image:
            _check_pixels(pil_image, source, max_pixels)  # from the header, before decoding
            pil_image.load()  # decode now: a cut-off or damaged file fails here, by name
            return to_rgb(pil_image)
    except FileNotFoundError:
        raise ImageError(f"image {source} does not exist") from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{source} is too large to decode ({exc})") from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{source} is not an image (no known format: PNG, JPEG, GIF, BMP, WebP, ...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{source} is not a readable image ({exc})") from None


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB.

    Pillow's own `convert("RGB")` clips 16-bit grayscale (`I;16`) to white and drops alpha
    as if the hidden pixels were visible; here deep grayscale is scaled into 0-255 by its
    range (`I;16`: 0-65535, `I`: its largest value, `F`: 0-1 or its largest value) and
    transparent pixels become white, as a browser shows them."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max(initial=0)), 1.0)
        if image.mode == "F" and top <= 1.0:
            top = 1.0
        gray = np.clip(values / top * 255.0, 0, 255).round().astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, image.convert("RGBA")).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def image_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file, from its header: no pixels decoded."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except FileNotFoundError:
        raise ImageError(f"image {path} does not exist") from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{path} is not an image (no known format: PNG, JPEG, GIF, BMP, WebP, ...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} is not a readable image ({exc})") from None


def _check_pixels(image: Image.Image, source: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(f"{source} has {width}x{height} = {width * height:,} pixels, more than the "
                        f"{max_pixels:,} allowed (a CAPTCHA is a few thousand)")


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
            array = array * 255.0  # floats in [0, 1], as matplotlib reads PNGs
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array[:, :, :3])


def _bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output pixel: its two source pixels and the weight of the second.

    Pixel centres are aligned (OpenCV's and albumentations' convention): output pixel i
    samples the input at (i + 0.5) * in/out - 0.5, clamped to the image.
    """
    position = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    position = np.clip(position, 0, in_size - 1)
    left = np.floor(position).astype(np.int64)
    right = np.minimum(left + 1, in_size - 1)
    return left, right, (position - left).astype(np.float32)


# Widths are rounded to a multiple of the models' horizontal strides (4, 8 or 16 pixels a
# timestep), so every column of the image maps to whole timesteps.
WIDTH_MULTIPLE = 16


def fitted_width(image_height: int, image_width: int, image_size: tuple[int, int] = IMAGE_SIZE) -> int:
    """The width an `image_height` x `image_width` image gets: its aspect ratio kept at the
    model's height, rounded to a multiple of 16, at least as wide as high, at most the cap."""
    height, max_width = image_size
    width = round(image_width * height / image_height / WIDTH_MULTIPLE) * WIDTH_MULTIPLE
    low = -(-height // WIDTH_MULTIPLE) * WIDTH_MULTIPLE  # a square: room for a few characters
    high = max(WIDTH_MULTIPLE, max_width // WIDTH_MULTIPLE * WIDTH_MULTIPLE)
    return int(min(max(width, low), high))


def resize_image(image: np.ndarray, image_size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """(H, W, 3) uint8 -> (height, fitted width, 3) uint8, bilinear. Step 1 of preprocessing.

    `image_size` is (height, largest width): see `fitted_width`."""
    height, width = image_size[0], fitted_width(*image.shape[:2], image_size)
    if image.shape[:2] == (height, width):
        return image  # already that size (the service resizes on upload): the taps would copy it
    top, bottom, wy = _bilinear_taps(image.shape[0], height)
    left, right, wx = _bilinear_taps(image.shape[1], width)
    pixels = image.astype(np.float32)
    rows = pixels[top] * (1 - wy)[:, None, None] + pixels[bottom] * wy[:, None, None]  # (height, W, 3)
    out = rows[:, left] * (1 - wx)[None, :, None] + rows[:, right] * wx[None, :, None]  # (height, width, 3)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32) * 255
_INV_STD = 1 / (np.array(IMAGENET_STD, dtype=np.float32) * 255)


def normalize_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32, ImageNet-normalised. Step 2 of preprocessing."""
    return np.ascontiguousarray(((image.astype(np.float32) - _MEAN) * _INV_STD).transpose(2, 0, 1))


def pad_batch(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(3, H, w_i) float32 arrays -> (B, 3, H, max w) padded on the right with 0 (the mean
    colour), and (B,) int64 widths: what lets a model mask each image's padding."""
    widths = np.array([image.shape[-1] for image in images], dtype=np.int64)  # (B,)
    batch = np.zeros((len(images), *images[0].shape[:-1], int(widths.max())), dtype=np.float32)
    for row, image in zip(batch, images):
        row[..., :image.shape[-1]] = image
    return batch, widths


def parse_image_size(text: str | tuple[int, int]) -> tuple[int, int]:
    """`"40x512"` -> (40, 512): the height every image is resized to, and the largest width."""
    if isinstance(text, (tuple, list)):
        height, width = text
    else:
        height, _, width = str(text).lower().partition("x")
        try:
            height, width = int(height), int(width)
        except ValueError:
            raise ConfigError(f"image size must be HEIGHTxMAX_WIDTH like 40x512, got {text!r}") from None
    if not (8 <= height <= 512 and 8 <= width <= 2048):
        raise ConfigError(f"image size {height}x{width} is out of range: height 8-512, width 8-2048 pixels")
    return height, width


def preprocess(image, image_size: tuple[int, int] = IMAGE_SIZE, **load_options) -> np.ndarray:
    """Any image -> (3, height, w) float32: load, resize, normalise. Training and every reader use it."""
    return normalize_image(resize_image(load_image(image, **load_options), image_size))
