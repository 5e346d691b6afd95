"""The machine a benchmark runs on, in one line for its header.

Timings depend on the CPU more than on anything else (the same run trains twice as fast on
one 2-core machine as on another; README, Results), so every benchmark names it. Imported
by the scripts next to it: `python benchmarks/train_speed.py` puts this folder on sys.path.
"""

from __future__ import annotations

import os
import platform

import torch


def cpu_name() -> str:
    """The CPU's model name: /proc/cpuinfo on Linux, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """e.g. "Intel(R) Xeon(R) Processor, 2 cores | torch 2.13.0+cpu, 2 threads"."""
    return f"{cpu_name()}, {os.cpu_count()} cores | torch {torch.__version__}, {torch.get_num_threads()} threads"
