"""Errors a user can act on.

Everything that goes wrong because of *input* raises a subclass of `CaptchaError` whose
message says what is wrong and where. The command line prints that message and exits
with status 2; it never shows a traceback from deep inside torch or PIL.

    CaptchaError
    ├── DataError              a data folder or a label is unusable
    │   └── UnknownCharacterError   a label holds a character the vocabulary lacks
    ├── ImageError             an image cannot be read
    │   ├── NotAnImageError         bytes no image format recognises
    │   └── ImageTooLargeError      more pixels than allowed (a decompression bomb)
    ├── ConfigError            an option or setting is invalid
    └── CheckpointError        a file is not a readable model
"""


class CaptchaError(Exception):
    """Base class: bad input that the user can fix."""


class DataError(CaptchaError):
    """A data folder or a label is unusable."""


class UnknownCharacterError(DataError):
    """A label holds a character the vocabulary cannot encode."""


class ImageError(CaptchaError):
    """An image file or upload cannot be read."""


class NotAnImageError(ImageError):
    """Bytes or a file that no image format recognises."""


class ImageTooLargeError(ImageError):
    """An image with more pixels than allowed (a decompression bomb, say)."""


class ConfigError(CaptchaError, ValueError):
    """An option is invalid: a negative count, an unknown name, a size that cannot work."""


class CheckpointError(CaptchaError):
    """A file is not a readable captcha_lib model (checkpoint or ONNX)."""
