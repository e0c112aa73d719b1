"""Verified downloads and safe zip extraction.

Three guarantees, so a dataset on disk is either the pinned bytes or absent:

* :func:`download` streams into a temporary file beside the destination, hashes while it streams,
  checks size and checksum, and only then renames the file into place. Any failure (HTTP error,
  truncated body, wrong checksum, Ctrl-C) removes the temporary file and leaves no destination.
* :func:`verify` re-checks a file against a pinned SHA-256 or MD5.
* :func:`safe_extract` refuses archive members that would land outside the target folder and
  extracts into a temporary folder that is renamed into place, so nothing half-extracted remains.

Only the standard library (urllib, hashlib, zipfile) and tqdm are used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import shutil
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.error import URLError
from urllib.request import Request, urlopen

from tqdm import tqdm  # plain bar: works in terminals, notebooks and papermill logs alike

from recsys import paths

__all__ = [
    "ChecksumError",
    "DatasetUnavailableError",
    "DownloadError",
    "download",
    "file_digest",
    "safe_extract",
    "verify",
]

#: Bytes read per chunk while streaming and hashing.
CHUNK_SIZE = 1 << 20
#: Seconds to wait for the server to connect or send more data.
DEFAULT_TIMEOUT = 60.0
_USER_AGENT = "recsys-datasets/0.1 (+python-urllib)"


class ChecksumError(ValueError):
    """A file's size or hash differs from the pinned value."""


class DownloadError(OSError):
    """The bytes could not be fetched (unreachable host, HTTP error, truncated transfer)."""


class DatasetUnavailableError(RuntimeError):
    """A release is not on disk and could not be downloaded; the message says how to provide it."""


def _hashers(sha256: str | None, md5: str | None) -> dict[str, hashlib._Hash]:
    hashers: dict[str, hashlib._Hash] = {}
    if sha256 is not None:
        hashers["sha256"] = hashlib.sha256()
    if md5 is not None:
        hashers["md5"] = hashlib.md5(usedforsecurity=False)
    return hashers


def _check_digests(label: str, hashers: dict[str, hashlib._Hash], sha256: str | None, md5: str | None) -> None:
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        actual = hashers[algorithm].hexdigest()
        if actual != expected.lower():
            raise ChecksumError(f"{label}: {algorithm.upper()} mismatch: expected {expected.lower()}, got {actual}")


def _validate_hex(value: str | None, length: int, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) != length:
        raise ValueError(f"{what} must be a {length}-character hex string, got {value!r}")
    try:
        int(value, 16)
    except ValueError:
        raise ValueError(f"{what} must be a {length}-character hex string, got {value!r}") from None


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in chunks (``algorithm`` is ``"sha256"`` or ``"md5"``)."""
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"algorithm must be 'sha256' or 'md5', got {algorithm!r}")
    hasher = hashlib.sha256() if algorithm == "sha256" else hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def verify(
    path: str | os.PathLike[str],
    sha256: str | None = None,
    md5: str | None = None,
    *,
    expected_size: int | None = None,
) -> None:
    """Check a file against a pinned SHA-256 and/or MD5 (and size); raise :class:`ChecksumError`.

    At least one of ``sha256`` and ``md5`` is required: verifying against nothing is a bug.
    """
    path = Path(path)
    if sha256 is None and md5 is None:
        raise ValueError("verify() needs sha256= or md5=")
    _validate_hex(sha256, 64, "sha256")
    _validate_hex(md5, 32, "md5")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if expected_size is not None:
        actual_size = path.stat().st_size
        if actual_size != expected_size:
            raise ChecksumError(f"{path}: size mismatch: expected {expected_size:,} bytes, got {actual_size:,}")
    hashers = _hashers(sha256, md5)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            for h in hashers.values():
                h.update(chunk)
    _check_digests(str(path), hashers, sha256, md5)


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    expected_size: int | None = None,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download ``url`` to ``dest`` atomically, checking size and checksum on the way.

    The body streams into ``<dest>.part-<random>`` in the same folder (so the final rename is
    atomic), is hashed while it streams, and is renamed to ``dest`` only when the byte count
    matches ``Content-Length`` and ``expected_size`` and the digests match ``sha256``/``md5``.
    Works for ``https://``, ``http://`` and ``file://`` URLs.

    Raises:
        DownloadError: the URL could not be fetched or the body was cut short.
        ChecksumError: the bytes differ from the pinned size or hash (names file, expected, actual).
    """
    dest = Path(dest)
    _validate_hex(sha256, 64, "sha256")
    _validate_hex(md5, 32, "md5")
    if expected_size is not None and (not isinstance(expected_size, int) or expected_size < 0):
        raise ValueError(f"expected_size must be a non-negative int, got {expected_size!r}")
    if not timeout or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")

    paths.ensure_dir(dest.parent, "download folder")
    tmp = dest.with_name(f"{dest.name}.part-{secrets.token_hex(6)}")
    hashers = _hashers(sha256, md5)
    try:
        try:
            response = urlopen(Request(url, headers={"User-Agent": _USER_AGENT}), timeout=timeout)
        except (URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise DownloadError(f"could not download {url}: {exc}") from exc
        with response:
            length_header = response.headers.get("Content-Length")
            content_length = int(length_header) if length_header and length_header.isdigit() else None
            if expected_size is not None and content_length is not None and content_length != expected_size:
                raise ChecksumError(
                    f"{dest}: size mismatch: expected {expected_size:,} bytes, {url} announces {content_length:,}"
                )
            limit = expected_size if expected_size is not None else content_length
            received = 0
            with (
                open(tmp, "xb") as out,
                tqdm(
                    total=content_length or expected_size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=dest.name,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                while True:
                    try:
                        chunk = response.read(CHUNK_SIZE)
                    except (OSError, http.client.HTTPException) as exc:  # timeouts, IncompleteRead
                        raise DownloadError(f"download of {url} failed after {received:,} bytes: {exc}") from exc
                    if not chunk:
                        break
                    received += len(chunk)
                    if limit is not None and received > limit:
                        raise ChecksumError(
                            f"{dest}: size mismatch: expected {limit:,} bytes, {url} sent more than that"
                        )
                    out.write(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                    bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        if content_length is not None and received != content_length:
            raise DownloadError(f"download of {url} was truncated: got {received:,} of {content_length:,} bytes")
        if expected_size is not None and received != expected_size:
            raise ChecksumError(f"{dest}: size mismatch: expected {expected_size:,} bytes, got {received:,}")
        _check_digests(f"{dest} (from {url})", hashers, sha256, md5)
        os.replace(tmp, dest)
    except BaseException:  # also KeyboardInterrupt: never leave a partial file behind
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    # Unix zips store the st_mode in the high 16 bits of external_attr.
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _check_member(info: zipfile.ZipInfo, root: Path) -> None:
    """Refuse a member that is absolute, climbs out with '..', or is a symbolic link."""
    name = info.filename
    posix = PurePosixPath(name.replace("\\", "/"))
    if (
        name.startswith(("/", "\\"))
        or posix.is_absolute()
        or PureWindowsPath(name).drive
        or PureWindowsPath(name).is_absolute()
    ):
        raise ValueError(f"refusing to extract archive member {name!r}: absolute path")
    if ".." in posix.parts:
        raise ValueError(f"refusing to extract archive member {name!r}: it climbs out with '..'")
    if _is_symlink(info):
        raise ValueError(f"refusing to extract archive member {name!r}: symbolic link")
    resolved = (root / posix).resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"refusing to extract archive member {name!r}: it lands outside {root}")


def _strip_root(name: str, strip: str | None) -> str | None:
    """The member's path below ``strip`` (``None`` if it lies elsewhere); as is without strip."""
    if strip is None:
        return name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or parts[0] != strip:
        return None
    return "/".join(parts[1:])


def safe_extract(
    zip_path: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    strip: str | None = None,
    members: Iterable[str] | None = None,
) -> Path:
    """Extract a zip into ``target_dir`` so that no member can escape it, all or nothing.

    Every member is checked before anything is written: absolute paths, ``..`` components and
    symbolic links raise ``ValueError`` naming the member. Files go to a temporary folder beside
    ``target_dir``, which is then renamed into place (replacing an existing ``target_dir``). On any
    failure the temporary folder is removed and an existing ``target_dir`` is left untouched.

    Args:
        zip_path: the archive.
        target_dir: the folder to create (its parent must be writable).
        strip: an archive top folder to strip, e.g. ``"ml-100k"``: ``target_dir`` then holds that
            folder's contents and members outside it are skipped (they are still checked).
        members: if given, only these names (after stripping) are extracted.

    Returns:
        ``target_dir`` as a ``Path``.
    """
    zip_path = Path(zip_path)
    target = Path(target_dir)
    parent = target.parent
    paths.ensure_dir(parent, "extraction folder")
    tmp = parent / f".{target.name}.extract-{secrets.token_hex(6)}"
    wanted = set(members) if members is not None else None
    try:
        tmp.mkdir()
        root = tmp.resolve()
        try:
            archive = zipfile.ZipFile(zip_path)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{zip_path}: not a valid zip archive: {exc}") from exc
        with archive:
            infos = archive.infolist()
            for info in infos:  # check everything before writing anything
                _check_member(info, root)
            for info in infos:
                rel = _strip_root(info.filename, strip)
                if not rel or (wanted is not None and rel.rstrip("/") not in wanted):
                    continue
                out = root / rel
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(out, "xb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_SIZE)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is swapped out first, then removed."""
    try:
        os.replace(tmp, target)  # works when target is absent (or an empty folder)
        return
    except OSError:
        if not target.exists():
            raise
    old = target.parent / f".{target.name}.old-{secrets.token_hex(6)}"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
