"""Defaults shared by the library and the command line.

A module with no imports, so `python -m captcha_lib ...` builds its help and runs
`predict --onnx` without loading torch. The modules that own these import them from here.
"""

# Characters of the generated data set: digits and capitals without 0 O 1 I, which the
# captcha font makes indistinguishable once warped.
DEFAULT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
DEFAULT_LENGTH = 5
STYLES = ("default", "lines", "gray")

# What every image is resized to, (height, width): the reference's. `train --image-size` picks another.
IMAGE_SIZE = (40, 150)

# The default generated Dataset (see README: why these sizes).
DEFAULT_TRAIN_SIZE = 30000
DEFAULT_VAL_SIZE = 1000

# Training on fresh data (synthetic.py): images rendered a epoch.
IMAGES_PER_EPOCH = 10_000

MODEL_NAMES = ("crnn", "reference")  # models.MODELS, in this order; tests check they agree
DEFAULT_MODEL = "crnn"
