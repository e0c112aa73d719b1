"""A verified file in a cache: find a release on disk, or download it, and never trust it blindly.

:func:`fetch` works for any :class:`~recsys.datasets.release.Release`. It looks, in this order:

a. for a bundled release, the copy in the repository (``<repo>/data/<folder>``), so it works
   offline;
b. the cache ``<data_dir>/<folder>`` (``data_dir`` argument, else ``$RECSYS_DATA_DIR``, else
   ``<repo>/data``), if it holds the marker ``.recsys-verified`` naming the archive's checksum. The
   marker is written only after a fully successful extraction; a folder without it is re-extracted.
   Then a verified archive ``<data_dir>/<filename>`` (e.g. one you dropped there by hand),
   extracted into the cache;
c. ``$MOVIELENS_DIR`` (or the ``movielens_dir`` argument): an archive there is verified and
   extracted into the cache; an extracted ``<folder>/`` with the expected files is read in place
   and never written to (files pinned in ``extracted_sha256`` are checked first);
d. a download into the cache (checksum-verified, written atomically), then extraction;
e. otherwise :class:`~recsys.datasets.download.DatasetUnavailableError`, whose message names the
   URL, the exact path to save the archive at, and the ``MOVIELENS_DIR`` alternative.

Writers of one cache entry are serialised across processes by a lock file, so parallel test
workers or notebooks can load the same release at once.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recsys import paths
from recsys.datasets.download import (
    ChecksumError,
    DatasetUnavailableError,
    DownloadError,
    safe_extract,
    verify,
)
from recsys.datasets.download import (
    download as download_file,
)
from recsys.datasets.release import Release

__all__ = ["MARKER", "fetch_release"]

#: File written into a cache folder after a fully successful extraction; holds the archive checksum.
MARKER = ".recsys-verified"


def _has_files(folder: Path, release: Release) -> bool:
    return folder.is_dir() and all((folder / f).is_file() for f in release.files)


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _marker_text(folder: Path, release: Release) -> str:
    """The marker's content: the archive checksum, then ``sha256 <hex> <file>`` for each file
    (the content of every file as extracted, so an edit of any length is noticed)."""
    lines = [release.checksum] + [f"sha256 {_file_sha256(folder / f)} {f}" for f in release.files]
    return "\n".join(lines) + "\n"


def _verification(folder: Path, release: Release) -> str | None:
    """``None`` when ``folder`` holds a marker for this archive and every file still has the
    content it had when it was extracted; otherwise why not (no marker, another archive, a file
    missing or changed, or a marker of an older layout)."""
    marker = folder / MARKER
    try:
        recorded = marker.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return "no verification marker"
    except (OSError, UnicodeDecodeError) as error:
        return f"its marker {marker} is unreadable ({error})"
    if not recorded or recorded[0].strip() != release.checksum:
        return f"its marker {marker} names another archive"
    if not _has_files(folder, release):
        return "a file is missing"
    hashes = {}
    for line in recorded[1:]:
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "sha256":
            hashes[parts[2]] = parts[1]
    for name in release.files:
        if name not in hashes:  # a marker of an older layout (sizes only): extracted again, quietly
            return "no verification marker"
        if _file_sha256(folder / name) != hashes[name]:
            return f"{folder / name} was changed after it was extracted"
    return None


def _is_verified(folder: Path, release: Release) -> bool:
    """True when ``folder`` is a whole, unchanged extraction of ``release`` (:func:`_verification`)."""
    return _verification(folder, release) is None


def _verify_archive(path: Path, release: Release) -> None:
    verify(path, sha256=release.sha256, md5=release.md5, expected_size=release.size)


def _extract(archive: Path, target: Path, release: Release) -> Path:
    """Extract a verified archive into the cache folder, then write the marker."""
    safe_extract(archive, target, strip=release.folder)
    if not _has_files(target, release):
        missing = [f for f in release.files if not (target / f).is_file()]
        shutil.rmtree(target, ignore_errors=True)
        raise ValueError(
            f"{archive}: the archive has no {release.folder}/{', '.join(missing)}; is it really {release.filename}?"
        )
    _check_extracted(target, release)
    (target / MARKER).write_text(_marker_text(target, release), encoding="ascii")
    return target


@contextmanager
def _cache_lock(cache: Path, release: Release) -> Iterator[None]:
    """Serialise writers of one release's cache entry across processes (POSIX; no-op elsewhere).

    Parallel test workers or notebooks may load the same release at once; without the lock one
    could swap out the folder another is reading. The lock file stays (deleting it would race).
    Whoever takes the lock first removes the leftovers of an earlier, killed writer.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    paths.ensure_dir(cache, f"data cache (${paths.DATA_DIR_ENV})")
    with open(cache / f".{release.name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            clean_leftovers(cache, release)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_leftovers(cache: Path, release: Release) -> list[Path]:
    """Remove what a killed download or extraction of ``release`` left in ``cache``.

    A process killed mid-download leaves ``<filename>.part-<random>``, one killed mid-extraction
    ``.<folder>.extract-<random>/``. Called with the release's cache lock held, so no live writer
    of this release owns them. Returns what was removed.
    """
    removed = []
    for leftover in [*cache.glob(f"{release.filename}.part-*"), *cache.glob(f".{release.folder}.extract-*")]:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def _check_extracted(folder: Path, release: Release) -> None:
    """Check the files of an extracted folder that the release pins (``extracted_sha256``)."""
    for filename, expected in release.extracted_sha256:
        if (folder / filename).is_file() or filename in release.files:
            verify(folder / filename, sha256=expected)


def fetch_release(
    release: Release,
    *,
    download: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    movielens_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Make a release available on disk and return its extracted folder (see the module docstring).

    Args:
        release: the :class:`Release` to make available (see :data:`recsys.datasets.RELEASES`).
        download: allow step d (the network); ``False`` raises instead of downloading.
        data_dir: the cache folder; default ``$RECSYS_DATA_DIR`` or ``<repo>/data``.
        movielens_dir: a folder of archives or extracted releases; default ``$MOVIELENS_DIR``.
        progress: show a tqdm progress bar while downloading.

    Raises:
        DatasetUnavailableError: no copy found and the download was forbidden or failed.
    """
    if not isinstance(release, Release):
        raise TypeError(
            f"release must be a Release, got {type(release).__name__}; recsys.datasets.fetch() also takes a name"
        )

    # a. the bundled copy, checked against its pinned checksums like any other copy
    if release.bundled:
        bundled = paths.bundled_dir() / release.folder
        if _has_files(bundled, release):
            try:
                _check_extracted(bundled, release)
            except ChecksumError as exc:
                raise ChecksumError(
                    f"the bundled copy of {release.name} was modified ({exc}); restore it with "
                    f"`git checkout -- data/{release.folder}`"
                ) from None
            return bundled

    cache = Path(data_dir) if data_dir is not None else paths.data_dir()
    target = cache / release.folder
    archive = cache / release.filename
    problems: list[str] = []

    # b. a verified extraction in the cache (marker, sizes and pinned files), else a verified
    #    archive in the cache
    state = _verification(target, release) if target.exists() else "absent"
    if state is None:
        try:
            _check_extracted(target, release)
        except ChecksumError as exc:
            problems.append(f"the cached copy {target} failed verification ({exc}); it is extracted again")
            (target / MARKER).unlink(missing_ok=True)
        else:
            return target
    elif state not in ("absent", "no verification marker"):
        # a copy that was whole once and is not any more: say so, then get a good one
        problems.append(f"the cached copy {target} is not used: {state}")
        warnings.warn(f"the cached copy {target} is not used: {state}; getting the release again", stacklevel=2)
    if archive.is_file():
        with _cache_lock(cache, release):
            if _is_verified(target, release):  # another process finished meanwhile
                return target
            try:
                _verify_archive(archive, release)
            except ChecksumError as exc:
                problems.append(f"the archive in the cache failed verification ({exc})")
                warnings.warn(f"ignoring {archive}: {exc}", stacklevel=2)
            else:
                return _extract(archive, target, release)

    # c. $MOVIELENS_DIR: an archive to extract into the cache, or an extracted folder read in place
    mdir_value = movielens_dir if movielens_dir is not None else paths.movielens_dir()
    if mdir_value is not None:
        mdir = Path(mdir_value)
        shared_archive = mdir / release.filename
        shared_folder = mdir / release.folder
        if not shared_archive.is_file() and not _has_files(shared_folder, release):
            problems.append(
                f"{paths.MOVIELENS_DIR_ENV}={mdir} holds neither {release.filename} "
                f"nor {release.folder}/ with {', '.join(release.files)}"
            )
        if shared_archive.is_file():
            try:
                _verify_archive(shared_archive, release)
            except ChecksumError as exc:
                problems.append(f"{shared_archive} failed verification ({exc})")
                warnings.warn(f"ignoring {shared_archive}: {exc}", stacklevel=2)
            else:
                with _cache_lock(cache, release):
                    if _is_verified(target, release):
                        return target
                    return _extract(shared_archive, target, release)
        if _has_files(shared_folder, release):
            try:
                _check_extracted(shared_folder, release)
            except ChecksumError as exc:
                problems.append(f"{shared_folder} failed verification ({exc})")
                warnings.warn(f"ignoring {shared_folder}: {exc}", stacklevel=2)
            else:
                return shared_folder
    else:
        problems.append(f"{paths.MOVIELENS_DIR_ENV} is not set")

    # d. download into the cache
    if download:
        with _cache_lock(cache, release):
            if _is_verified(target, release):  # another process downloaded it meanwhile
                return target
            try:
                download_file(
                    release.url,
                    archive,
                    sha256=release.sha256,
                    md5=release.md5,
                    expected_size=release.size,
                    progress=progress,
                )
            except (DownloadError, ChecksumError, OSError) as exc:
                problems.append(f"downloading {release.url} failed: {exc}")
            else:
                return _extract(archive, target, release)
    else:
        problems.append("downloading was not allowed (download=False)")

    # e. nothing worked: say exactly how to provide the data
    pin = f"SHA-256 {release.sha256}" if release.sha256 else f"MD5 {release.md5}"
    raise DatasetUnavailableError(
        f"MovieLens release {release.name!r} is not available: " + "; ".join(problems) + ".\n"
        f"To use it offline, either\n"
        f"  * download {release.url}\n"
        f"    and save it as {archive}\n"
        f"    (it is checked against {pin}), or\n"
        f"  * set {paths.MOVIELENS_DIR_ENV} to a folder holding {release.filename} "
        f"or the extracted {release.folder}/ folder."
    )
