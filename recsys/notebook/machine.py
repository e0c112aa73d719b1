"""What a timing was measured on: timings are only comparable on the same machine and load."""

from __future__ import annotations

import os
import platform

import numpy as np


def describe() -> dict:
    """Platform, processor, cores, Python and numpy versions, and the load average right now."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not available on every platform
        load = None
    return {
        "platform": f"{platform.system()} {platform.machine()}",
        "processor": platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average": load,
    }


def one_line() -> str:
    """One line: ``Linux x86_64, 2 cores, Python 3.11.7, numpy 2.4.6, load 0.52``."""
    d = describe()
    load = f", load {d['load_average'][0]}" if d["load_average"] else ""
    return f"{d['platform']}, {d['cores']} cores, Python {d['python']}, numpy {d['numpy']}{load}"
