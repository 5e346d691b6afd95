"""Every default of the package, defined once.

A module with no imports, so `python -m captcha_lib --help` and `predict --onnx` start
without loading torch. The modules that use these import them from here.
"""

# Characters of the generated data set: digits and capitals without 0 O 1 I, which the
# captcha font makes indistinguishable once warped.
DEFAULT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
DEFAULT_LENGTH = 5
STYLES = ("default", "lines", "gray", "colour", "wide", "mix")  # data/generate.py and data/styles.py draw them

# The mixed-case styles' characters: digits and letters that stay distinct in every font and
# case (no 0/O/o, 1/I/l/i, 9/g/q, nor c k o p s u v w x z, whose capital is the small form
# enlarged). A style not listed uses DEFAULT_ALPHABET and DEFAULT_LENGTH.
MIXED_CASE_ALPHABET = "2345678abdefghjmnqrtyABDEFGHJLMNQRTY"
# `mix` (the pretrained reader's data: every other style, image by image) uses every digit
# and ASCII letter: a user's alphabet is some subset of them.
GENERAL_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
STYLE_ALPHABETS = {"colour": MIXED_CASE_ALPHABET, "wide": MIXED_CASE_ALPHABET, "mix": GENERAL_ALPHABET}
STYLE_LENGTHS = {"colour": "4-8", "wide": "4-8", "mix": "4-8"}

# Every image is resized to this height, keeping its aspect ratio, and to at most this
# width: (height, max width). 40 is the reference's height; 512 holds a 700x55 CAPTCHA
# unsqueezed. `train --image-size` picks another.
IMAGE_SIZE = (40, 512)

# The default generated Dataset (see README: why these sizes).
DEFAULT_TRAIN_SIZE = 30000
DEFAULT_VAL_SIZE = 1000

# Training on fresh data (data/synthetic.py): images rendered an epoch.
IMAGES_PER_EPOCH = 10_000

MODEL_NAMES = ("crnn", "reference")  # model.build.MODELS, in this order; a test checks they agree
DEFAULT_MODEL = "crnn"

# Reading: images per model call, and the service's limits on what a client may send.
READ_BATCH_SIZE = 64
MAX_IMAGE_BYTES = 1_000_000  # a CAPTCHA is a few KB
MAX_BATCH = 32  # images per /predict/batch request
# A CAPTCHA is a few thousand pixels. Anything over this is refused before it is decoded:
# a 50 KB PNG can unpack to gigabytes (a "decompression bomb").
MAX_PIXELS = 4_000_000
# The service's connections (deploy/guard.py): seconds a client has to send a whole request
# (a CAPTCHA upload is a few KB), and open connections or requests in progress at once.
REQUEST_TIMEOUT = 15.0
MAX_CONNECTIONS = 256
