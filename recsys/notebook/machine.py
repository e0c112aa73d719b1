"""What a timing was measured on: timings are only comparable on the same machine and load."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np


def describe() -> dict:
    """Platform, CPU model with its SIMD flags, cores, Python and numpy versions, and the load
    average right now."""
    from recsys.ann.platform import cpu_description

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not available on every platform
        load = None
    return {
        "platform": f"{platform.system()} {platform.machine()}",
        "processor": cpu_description(),
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


def source_commit(folder: str | os.PathLike | None = None) -> str:
    """The git commit the package is running from, with ``" + local changes"`` when tracked files
    differ from it; ``"unknown (not a git checkout)"`` outside a checkout or without git. What a
    committed run records beside its date and machine, so a reader can find the code behind it."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parents[2]
    if not (folder / ".git").exists():  # an installed copy is not the checkout it came from
        return "unknown (not a git checkout)"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} + local changes" if dirty else head
