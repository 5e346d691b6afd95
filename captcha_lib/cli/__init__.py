"""`python -m captcha_lib {generate,train,pretrain,evaluate,calibrate,label,predict,export,serve}`.

Bad input (a missing folder, no images, a bad checkpoint, an unknown character, an
invalid option) ends with one line on stderr and exit status 2, never a traceback.
`train`'s options are TrainConfig's fields (training/config.py), turned into flags here.
SIGTERM (a `kill`, a scheduler ending a job) stops a command as Ctrl-C does.
"""

from __future__ import annotations

import signal
import sys

from ..errors import CaptchaError
from .parser import build_parser

__all__ = ["build_parser", "main"]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        args.run(args)
    except CaptchaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
