"""How each search library was built, and the SIMD level it runs with (notebook 06's last section).

* :func:`library_builds`: one row per library: version, wheel or source build, SIMD level (faiss's
  run-time level, usearch's kernels, nmslib's import banner, or the widest registers ``objdump``
  finds in the compiled module);
* :func:`faiss_simd_level` / :func:`faiss_simd_levels`: run faiss at another SIMD level inside a
  block, and the levels it can run at here (what :func:`recsys.ann.running.simd_sweep` sweeps).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd

from recsys.ann.base import require

__all__ = ["SIMD_LEVELS", "cpu_description", "faiss_simd_level", "faiss_simd_levels", "library_builds"]

#: faiss's SIMD levels, from none up.
SIMD_LEVELS: tuple[str, ...] = ("NONE", "AVX2", "AVX512", "AVX512_VPOPCNT", "AVX512_SPR")


#: The CPU flags that decide which distance kernels a library can run (reported by :func:`cpu_description`).
SIMD_FLAGS: tuple[str, ...] = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "neon",
)


def cpu_description(cpuinfo: str | None = None) -> str:
    """The CPU model and its SIMD flags: ``"AMD EPYC 7B13 (2 cores; sse4_2 avx avx2 fma; no avx512f)"``.

    Read from ``/proc/cpuinfo`` (or the text given); elsewhere, :func:`platform.processor`.
    """
    import os
    import platform

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    if not flags:
        return f"{model} ({os.cpu_count()} cores; SIMD flags unknown)"
    present = [f for f in SIMD_FLAGS if f in flags]
    absent = "" if "avx512f" in flags or "neon" in flags else "; no avx512f"
    return f"{model} ({os.cpu_count()} cores; {' '.join(present) or 'no SIMD flags listed'}{absent})"


def _binary_vector_registers(path: str) -> str:
    """The widest SIMD registers a compiled library's code uses, read with ``objdump`` if present."""
    import shutil
    import subprocess

    if not shutil.which("objdump"):
        return "not inspected (no objdump)"
    try:
        text = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        return "not inspected"
    counts = {reg: text.count(f"%{reg}") for reg in ("zmm", "ymm", "xmm")}
    if counts["zmm"]:
        return f"AVX-512 code present ({counts['zmm']:,} zmm instructions)"
    if counts["ymm"]:
        return f"AVX/AVX2 at most ({counts['ymm']:,} ymm, no zmm instructions)"
    return "SSE at most (no ymm/zmm instructions)" if counts["xmm"] else "no SIMD instructions found"


def _wheel(dist_name: str) -> tuple[str, str]:
    import importlib.metadata as md

    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return "", ""
    tags = [
        line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines() if line.startswith("Tag")
    ]
    kind = "PyPI wheel" if any("manylinux" in t or "macosx" in t or "win" in t for t in tags) else "built from source"
    return dist.version, f"{kind} ({tags[0] if tags else 'no tag'})"


def _nmslib_banner() -> str:
    """What nmslib's wheel says about itself on import (in a subprocess, to capture native output)."""
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-c", "import nmslib"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        return ""
    text = " ".join((done.stdout + done.stderr).split())
    return text.split("For maximum")[0].strip()


def library_builds(inspect_binaries: bool = True) -> pd.DataFrame:
    """One row per search library: version, how it was built, and the SIMD level it runs with.

    faiss reports its run-time level (``faiss.SIMDConfig``); usearch its kernels
    (``hardware_acceleration``); nmslib's wheel prints what it lacks on import; for hnswlib, annoy
    and ScaNN, and for glass, voyager, NGT, rabitqlib and SVS, the compiled module is read with
    ``objdump`` for the widest registers it uses.
    """
    import importlib.util

    rows = []

    def add(library, dist, simd, note=""):
        version, build = _wheel(dist)
        if not version:
            rows.append({"library": library, "version": "", "build": "not installed", "simd": "", "note": note})
        else:
            rows.append({"library": library, "version": version, "build": build, "simd": simd, "note": note})

    def binary(module: str) -> str:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin:
            return ""
        return _binary_vector_registers(spec.origin) if inspect_binaries else "not inspected"

    if importlib.util.find_spec("faiss"):
        faiss = require("faiss", "faiss-cpu")
        level = faiss.SIMDConfig.get_level_name() if hasattr(faiss, "SIMDConfig") else "unknown"
        add("faiss", "faiss-cpu", f"{level} (run-time dispatch)", f"compiled: {faiss.get_compile_options().strip()}")
    else:
        add("faiss", "faiss-cpu", "")
    add("hnswlib", "hnswlib", binary("hnswlib"), "distance kernels chosen at compile time")
    banner = _nmslib_banner() if importlib.util.find_spec("nmslib") and inspect_binaries else ""
    add("nmslib", "nmslib", "none (generic C++)" if "not compiled" in banner else binary("nmslib"), banner)
    add("annoy", "annoy", binary("annoy.annoylib"), "distance kernels chosen at compile time")
    if importlib.util.find_spec("usearch"):
        from usearch.index import Index

        add("usearch", "usearch", f"{Index(ndim=8, metric='ip').hardware_acceleration} kernels (run-time dispatch)")
    else:
        add("usearch", "usearch", "")
    scann_so = importlib.util.find_spec("scann")
    simd = ""
    if scann_so and scann_so.submodule_search_locations and inspect_binaries:
        folder = Path(next(iter(scann_so.submodule_search_locations)))
        found = sorted(folder.rglob("scann_pybind*.so"))
        simd = _binary_vector_registers(str(found[0])) if found else ""
    add("scann", "scann", simd)
    # the newer libraries: one compiled module each, read for its widest registers
    for library, dist, module in (
        ("glass", "pyglass-portable", "glass"),
        ("voyager", "voyager", "voyager"),
        ("ngt", "ngt", "ngtpy"),
        ("rabitqlib", "rabitqlib", "rabitqlib"),
        ("svs", "scalable-vs", "svs"),
    ):
        add(library, dist, _largest_extension(module) if inspect_binaries else "not inspected")
    return pd.DataFrame(rows).set_index("library")


def _largest_extension(module: str) -> str:
    """The SIMD registers used by a module's largest compiled extension (its search kernels)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None:
        return ""
    if spec.submodule_search_locations:
        found = [p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.so")]
    else:
        found = [Path(spec.origin)] if spec.origin and spec.origin.endswith(".so") else []
    if not found:
        return ""
    return _binary_vector_registers(str(max(found, key=lambda p: p.stat().st_size)))


@contextlib.contextmanager
def faiss_simd_level(level: str):
    """Run faiss at another SIMD level (``"NONE"``, ``"AVX2"``, ``"AVX512"``, ...) inside the block.

    faiss 1.12+ dispatches its kernels at run time, so one process can measure the same index at
    each level: the cleanest experiment of what SIMD does to the numbers.
    """
    faiss = require("faiss", "faiss-cpu")
    config = faiss.SIMDConfig
    previous = config.get_level_name()
    try:
        config.set_level(faiss.to_simd_level(level))
    except (RuntimeError, KeyError, ValueError) as error:
        raise ValueError(f"faiss cannot run at SIMD level {level!r} here (it runs at {previous}): {error}") from None
    if config.get_level_name() != level:
        config.set_level(faiss.to_simd_level(previous))
        raise ValueError(f"faiss cannot run at SIMD level {level!r} here (it runs at {previous})")
    try:
        yield
    finally:
        config.set_level(faiss.to_simd_level(previous))


def faiss_simd_levels() -> list[str]:
    """The levels of :data:`SIMD_LEVELS` faiss can run at on this CPU, from ``NONE`` up."""
    faiss = require("faiss", "faiss-cpu")
    return [level for level in SIMD_LEVELS if _level_available(faiss, level)]


def _level_available(faiss, level: str) -> bool:
    config = faiss.SIMDConfig
    try:
        return bool(config.is_simd_level_available(faiss.to_simd_level(level)))
    except Exception:  # noqa: BLE001 - an unknown level name on this build
        return False
