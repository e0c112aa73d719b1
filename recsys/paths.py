"""Where the project keeps things: the repository root, the data cache and the build output.

Each location can be overridden by an environment variable, so a read-only checkout or a
shared machine can put the cache and the build output elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``recsys/``, ``notebooks/`` and ``data/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Environment variable naming the download cache (default: ``<repo>/data``).
DATA_DIR_ENV = "RECSYS_DATA_DIR"
#: Environment variable naming a folder of already-downloaded MovieLens archives or extracted releases.
MOVIELENS_DIR_ENV = "MOVIELENS_DIR"
#: Environment variable naming the build output folder (default: ``<repo>/build``).
BUILD_DIR_ENV = "RECSYS_BUILD_DIR"


def data_dir() -> Path:
    """The folder downloads are cached in; ``$RECSYS_DATA_DIR`` or ``<repo>/data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "data")


def ensure_dir(folder: str | os.PathLike, what: str = "folder") -> Path:
    """``folder``, created with its parents if missing; a clear ``NotADirectoryError`` naming it
    (and ``what`` it is for) when it, or a parent on the way, is a file, where ``mkdir`` would say
    ``FileExistsError`` or ``NotADirectoryError`` about a path the user may not recognise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        blocking = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), folder)
        raise NotADirectoryError(
            f"the {what} {folder} cannot be created: {blocking} is a file, not a folder; "
            "move it away or choose another location"
        ) from error
    return folder


def bundled_dir() -> Path:
    """The folder holding the data bundled with the repository (always ``<repo>/data``)."""
    return REPO_ROOT / "data"


def movielens_dir() -> Path | None:
    """The folder named by ``$MOVIELENS_DIR``, if set: existing archives or extracted releases."""
    value = os.environ.get(MOVIELENS_DIR_ENV)
    return Path(value) if value else None


def build_dir() -> Path:
    """The folder the notebook runner writes into; ``$RECSYS_BUILD_DIR`` or ``<repo>/build``."""
    return Path(os.environ.get(BUILD_DIR_ENV) or REPO_ROOT / "build")


def notebooks_dir() -> Path:
    """The folder holding the committed notebooks."""
    return REPO_ROOT / "notebooks"
