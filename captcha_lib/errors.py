"""Errors a user can act on.

Everything that goes wrong because of *input* (a folder, an image, a label, a
checkpoint) raises a subclass of `CaptchaError` whose message says what is wrong and
which file. The command line prints that message and exits non-zero; it never shows
a traceback from deep inside torch or PIL.
"""


class CaptchaError(Exception):
    """Base class: bad input that the user can fix."""


class DataError(CaptchaError):
    """A data folder, an image file or a label is unusable."""


class UnknownCharacterError(DataError):
    """A label holds a character the vocabulary cannot encode."""


class CheckpointError(CaptchaError):
    """A file is not a readable captcha_lib checkpoint."""


class NotAnImageError(DataError):
    """Bytes or a file that no image format recognises."""


class ImageTooLargeError(DataError):
    """An image with more pixels than allowed (a decompression bomb, say)."""
