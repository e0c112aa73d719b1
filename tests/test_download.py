"""The verified downloader, safe extraction and the release resolution order (no network).

Files are served from a local HTTP server on 127.0.0.1 (port 0) in a background thread, and via
file:// URLs. Releases are tiny fakes shaped like ML-100K, patched into the registry per test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import socket
import stat
import sys
import threading
import types
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import datasets
from recsys.datasets import download as dl
from recsys.datasets.cache import MARKER
from recsys.datasets.registry import RELEASES
from recsys.datasets.release import Release

# ---------------------------------------------------------------------------------------------
# A tiny ML-100K-shaped release

U_DATA = b"1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t891717742\n3\t30\t1\t878887116\n"
U_ITEM = (
    "10|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "20|Misérables, Les (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|1|0|0|0|0|0|0\n"
    "30|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
).encode("latin-1")
U_USER = b"1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1N\n"


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write a zip holding ``members`` (name -> bytes) verbatim, names unsanitised."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data)
    return path


def fake_100k_zip(path: Path, folder: str = "ml-100k") -> Path:
    return make_zip(
        path,
        {
            f"{folder}/": b"",
            f"{folder}/u.data": U_DATA,
            f"{folder}/u.item": U_ITEM,
            f"{folder}/u.user": U_USER,
            f"{folder}/README": b"fake release for tests\n",
        },
    )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_release(archive: Path, url: str, **overrides: object) -> Release:
    """RELEASES['ml-100k'] pointed at a fake archive (its real checksum, size and URL)."""
    data = archive.read_bytes()
    fields = {"url": url, "sha256": sha256_of(data), "size": len(data), "extracted_sha256": (), "n_ratings": 4}
    fields.update(overrides)
    return dataclasses.replace(RELEASES["ml-100k"], **fields)


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders the downloader or extractor might have left behind."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name or ".extract-" in p.name)


def contents(folder: Path) -> list[str]:
    """What a folder holds, ignoring the cache's inter-process lock files."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# A local HTTP server


class Server:
    """Serves ``routes[path] = body``; ``truncate[path] = n`` announces n bytes more than sent."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.routes.get(self.path)
                if self.path.startswith("/chunked-cut"):
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"400\r\n" + b"x" * 10)  # promises 1024 bytes, sends 10
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if body is None:
                    self.send_error(404, "not found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body) + server.truncate.get(self.path, 0)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    return fake_100k_zip(src / "ml-100k.zip")


# ---------------------------------------------------------------------------------------------
# download() and verify()


def test_download_over_http_verifies_and_renames(server: Server, archive: Path, tmp_path: Path):
    data = archive.read_bytes()
    server.routes["/good.zip"] = data
    dest = tmp_path / "out" / "ml-100k.zip"
    got = dl.download(
        server.url("/good.zip"),
        dest,
        sha256=sha256_of(data),
        expected_size=len(data),
        progress=False,
    )
    assert got == dest
    assert dest.read_bytes() == data
    assert leftovers(dest.parent) == []
    dl.verify(dest, sha256=sha256_of(data), md5=hashlib.md5(data).hexdigest())


def test_download_file_url_with_md5(archive: Path, tmp_path: Path):
    data = archive.read_bytes()
    dest = tmp_path / "copy.zip"
    dl.download(archive.as_uri(), dest, md5=hashlib.md5(data).hexdigest(), progress=False)
    assert dest.read_bytes() == data


def test_corrupt_archive_raises_checksum_error_and_leaves_nothing(server: Server, archive: Path, tmp_path: Path):
    data = bytearray(archive.read_bytes())
    good_sha = sha256_of(bytes(data))
    data[len(data) // 2] ^= 0xFF  # flip one byte
    server.routes["/corrupt.zip"] = bytes(data)
    dest = tmp_path / "out" / "ml-100k.zip"
    with pytest.raises(dl.ChecksumError) as info:
        dl.download(server.url("/corrupt.zip"), dest, sha256=good_sha, progress=False)
    message = str(info.value)
    assert str(dest) in message and good_sha in message and sha256_of(bytes(data)) in message
    assert isinstance(info.value, ValueError)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_corrupt_download_is_never_trusted_later(server: Server, archive: Path, isolated_data_dir: Path):
    data = bytearray(archive.read_bytes())
    release = fake_release(archive, server.url("/corrupt-release.zip"))
    data[100] ^= 0x01
    server.routes["/corrupt-release.zip"] = bytes(data)
    with pytest.raises(datasets.DatasetUnavailableError, match="SHA256 mismatch"):
        datasets.load(release, progress=False)
    assert contents(isolated_data_dir) == []
    with pytest.raises(datasets.DatasetUnavailableError):
        datasets.load(release, download=False)


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_wrong_pinned_checksum(archive: Path, tmp_path: Path, algorithm: str):
    wrong = "0" * (64 if algorithm == "sha256" else 32)
    dest = tmp_path / "x.zip"
    with pytest.raises(dl.ChecksumError, match=f"{algorithm.upper()} mismatch: expected {wrong}"):
        dl.download(archive.as_uri(), dest, progress=False, **{algorithm: wrong})
    assert not dest.exists() and leftovers(tmp_path) == []
    with pytest.raises(dl.ChecksumError, match=str(archive)):
        dl.verify(archive, **{algorithm: wrong})


def test_truncated_http_body_is_a_download_error(server: Server, archive: Path, tmp_path: Path):
    data = archive.read_bytes()
    server.routes["/short.zip"] = data[:-50]
    server.truncate["/short.zip"] = 50  # Content-Length says 50 bytes more than are sent
    dest = tmp_path / "short.zip"
    with pytest.raises(dl.DownloadError, match="truncated"):
        dl.download(server.url("/short.zip"), dest, progress=False)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_cut_chunked_body_is_a_download_error(server: Server, tmp_path: Path):
    dest = tmp_path / "chunked.zip"
    with pytest.raises(dl.DownloadError, match="failed after"):
        dl.download(server.url("/chunked-cut.zip"), dest, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_is_a_checksum_error(archive: Path, tmp_path: Path):
    size = archive.stat().st_size
    dest = tmp_path / "sized.zip"
    with pytest.raises(dl.ChecksumError, match=f"expected {size + 1:,} bytes"):
        dl.download(archive.as_uri(), dest, expected_size=size + 1, progress=False)
    with pytest.raises(dl.ChecksumError, match="size mismatch"):
        dl.download(archive.as_uri(), dest, expected_size=size - 1, progress=False)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_http_404_is_a_download_error(server: Server, tmp_path: Path):
    with pytest.raises(dl.DownloadError, match="404"):
        dl.download(server.url("/missing.zip"), tmp_path / "m.zip", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupt_mid_download_removes_the_temp_file(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real_urlopen = dl.urlopen

    class Interrupting:
        def __init__(self, response):
            self._response, self.headers, self.calls = response, response.headers, 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise KeyboardInterrupt
            return self._response.read(16)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._response.close()

    monkeypatch.setattr(dl, "urlopen", lambda *a, **k: Interrupting(real_urlopen(*a, **k)))
    dest = tmp_path / "out" / "x.zip"
    with pytest.raises(KeyboardInterrupt):
        dl.download(archive.as_uri(), dest, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_existing_dest_is_kept_when_download_fails(archive: Path, tmp_path: Path):
    dest = tmp_path / "x.zip"
    dest.write_bytes(b"previous")
    with pytest.raises(dl.ChecksumError):
        dl.download(archive.as_uri(), dest, sha256="f" * 64, progress=False)
    assert dest.read_bytes() == b"previous"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sha256": "abc"}, "64-character"),
        ({"md5": "z" * 32}, "32-character"),
        ({"expected_size": -1}, "expected_size"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_download_validates_arguments(tmp_path: Path, kwargs: dict, match: str):
    with pytest.raises(ValueError, match=match):
        dl.download("file:///nonexistent", tmp_path / "x", progress=False, **kwargs)


def test_verify_needs_a_checksum(archive: Path):
    with pytest.raises(ValueError, match="sha256= or md5="):
        dl.verify(archive)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=5000))
def test_download_roundtrips_any_bytes(tmp_path: Path, payload: bytes):
    src = tmp_path / "payload.bin"
    src.write_bytes(payload)
    dest = tmp_path / "dest.bin"
    dl.download(src.as_uri(), dest, sha256=sha256_of(payload), expected_size=len(payload), progress=False)
    assert dest.read_bytes() == payload
    assert dl.file_digest(dest, "md5") == hashlib.md5(payload).hexdigest()


# ---------------------------------------------------------------------------------------------
# safe_extract()


@pytest.mark.parametrize(
    "bad_member",
    ["../evil", "ml-100k/../../evil", "/tmp/abs-evil", "\\windows-evil", "C:/drive-evil"],
)
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path: Path, bad_member: str):
    zpath = make_zip(tmp_path / "bad.zip", {"ml-100k/u.data": U_DATA, bad_member: b"pwned", "ml-100k/z": b"z"})
    work = tmp_path / "work"
    work.mkdir()
    target = work / "target"
    with pytest.raises(ValueError, match=re.escape(f"archive member {bad_member!r}")):
        dl.safe_extract(zpath, target)
    assert list(work.iterdir()) == []  # no target, no temp folder
    assert not (tmp_path / "evil").exists() and not Path("/tmp/abs-evil").exists()


def test_symlink_member_is_refused(tmp_path: Path):
    zpath = tmp_path / "link.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("ml-100k/link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        dl.safe_extract(zpath, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_safe_extract_strips_top_folder_and_replaces_old_target(tmp_path: Path, archive: Path):
    target = tmp_path / "cache" / "ml-100k"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("old")
    dl.safe_extract(archive, target, strip="ml-100k")
    assert sorted(p.name for p in target.iterdir()) == ["README", "u.data", "u.item", "u.user"]
    assert (target / "u.data").read_bytes() == U_DATA
    assert sorted(p.name for p in target.parent.iterdir()) == ["ml-100k"]


def test_safe_extract_rejects_non_zip(tmp_path: Path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a valid zip"):
        dl.safe_extract(bogus, tmp_path / "t")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bogus.zip"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(
        st.lists(st.text("abcxyz-_.0", min_size=1, max_size=6), min_size=1, max_size=3).map("/".join),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_safe_extract_keeps_every_member_inside(tmp_path: Path, names: list[str]):
    """Any member whose path has a '..' part is refused; every other one lands inside the target."""
    members = {n: n.encode() for n in names}
    # a member cannot be both a file and the folder of another member
    if any(a != b and b.startswith(a + "/") for a in names for b in names):
        return
    zpath = make_zip(tmp_path / f"h-{abs(hash(tuple(names)))}.zip", members)
    target = tmp_path / f"t-{abs(hash(tuple(names)))}"
    climbs = any(".." in n.split("/") for n in names)
    dot_only = any(part in ("", ".") for n in names for part in n.split("/"))
    if climbs:
        with pytest.raises(ValueError, match="climbs out"):
            dl.safe_extract(zpath, target)
        assert not target.exists()
        return
    if dot_only:
        return
    dl.safe_extract(zpath, target)
    root = target.resolve()
    for n in names:
        out = (target / n).resolve()
        assert root in out.parents
        assert out.read_bytes() == n.encode()


# ---------------------------------------------------------------------------------------------
# load(): download, extract, mark, and the offline error


def test_load_downloads_verifies_extracts_and_marks(server: Server, archive: Path, isolated_data_dir: Path):
    server.routes["/ml-100k.zip"] = archive.read_bytes()
    release = fake_release(archive, server.url("/ml-100k.zip"))
    ds = datasets.load(release, progress=False)
    assert len(ds.ratings) == 4 and ds.n_users == 3 and ds.n_items == 3
    assert ds.ratings["rating"].tolist() == [5.0, 3.0, 4.0, 1.0]
    assert ds.items.loc[20, "title"] == "Misérables, Les (1995)"
    assert ds.path == isolated_data_dir / "ml-100k"
    assert (isolated_data_dir / "ml-100k.zip").read_bytes() == archive.read_bytes()
    assert (isolated_data_dir / "ml-100k" / MARKER).read_text().splitlines()[0] == release.checksum
    assert leftovers(isolated_data_dir) == []
    # second load: served from the verified cache, no new request
    before = len(server.requests)
    again = datasets.load(release, download=False)
    assert len(server.requests) == before
    assert again.ratings.equals(ds.ratings)


def test_load_uses_the_patched_registry(
    server: Server, archive: Path, isolated_data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    server.routes["/registry/ml-100k.zip"] = archive.read_bytes()
    monkeypatch.setitem(RELEASES, "ml-100k", fake_release(archive, server.url("/registry/ml-100k.zip")))
    ds = datasets.load("ml-100k", progress=False)
    assert len(ds.ratings) == 4
    assert "/registry/ml-100k.zip" in server.requests


def test_load_from_file_url_into_explicit_data_dir(archive: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    release = fake_release(archive, archive.as_uri())
    cache = tmp_path / "explicit-cache"
    ds = datasets.load(release, data_dir=cache, progress=False)
    assert ds.path == cache / "ml-100k"
    assert ds.users is not None and ds.users.loc[3, "zip_code"] == "T8H1N"


def test_offline_error_names_url_destination_and_movielens_dir(isolated_data_dir: Path, archive):
    url = f"http://127.0.0.1:{closed_port()}/ml-100k.zip"
    release = fake_release(archive, url)
    with pytest.raises(datasets.DatasetUnavailableError) as info:
        datasets.load(release, progress=False)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert url in message
    assert str(isolated_data_dir / "ml-100k.zip") in message
    assert "MOVIELENS_DIR" in message
    assert release.sha256 in message
    assert contents(isolated_data_dir) == []


def test_download_false_never_touches_the_network(server: Server, archive: Path, isolated_data_dir: Path):
    server.routes["/never.zip"] = archive.read_bytes()
    release = fake_release(archive, server.url("/never.zip"))
    with pytest.raises(datasets.DatasetUnavailableError, match="download=False"):
        datasets.load(release, download=False)
    assert "/never.zip" not in server.requests


def test_archive_dropped_into_cache_is_used_offline(archive: Path, isolated_data_dir: Path):
    release = fake_release(archive, f"http://127.0.0.1:{closed_port()}/x.zip")
    (isolated_data_dir / "ml-100k.zip").write_bytes(archive.read_bytes())
    ds = datasets.load(release, download=False)
    assert len(ds.ratings) == 4
    assert (isolated_data_dir / "ml-100k" / MARKER).is_file()


def test_bad_archive_in_cache_is_ignored_with_a_warning(archive: Path, isolated_data_dir: Path):
    release = fake_release(archive, f"http://127.0.0.1:{closed_port()}/x.zip")
    (isolated_data_dir / "ml-100k.zip").write_bytes(b"garbage")
    with (
        pytest.warns(UserWarning, match="ignoring"),
        pytest.raises(datasets.DatasetUnavailableError, match="failed verification"),
    ):
        datasets.load(release, download=False)
    assert not (isolated_data_dir / "ml-100k").exists()


def test_movielens_dir_archive_is_verified_and_extracted_into_cache(
    archive: Path, isolated_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ml-100k.zip").write_bytes(archive.read_bytes())
    monkeypatch.setenv("MOVIELENS_DIR", str(shared))
    release = fake_release(archive, f"http://127.0.0.1:{closed_port()}/x.zip")
    ds = datasets.load(release, download=False)
    assert ds.path == isolated_data_dir / "ml-100k"
    assert sorted(p.name for p in shared.iterdir()) == ["ml-100k.zip"]  # never written to


def test_movielens_dir_extracted_folder_is_read_in_place_and_checked(
    isolated_data_dir: Path, tmp_path: Path, archive: Path
):
    shared = tmp_path / "shared"
    folder = shared / "ml-100k"
    folder.mkdir(parents=True)
    for name, data in {"u.data": U_DATA, "u.item": U_ITEM, "u.user": U_USER}.items():
        (folder / name).write_bytes(data)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    pinned = fake_release(archive, "http://127.0.0.1:1/x.zip", extracted_sha256=(("u.data", sha256_of(U_DATA)),))
    ds = datasets.load(pinned, download=False, movielens_dir=shared)
    assert ds.path == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before  # nothing written
    assert list(isolated_data_dir.iterdir()) == []

    wrong = dataclasses.replace(pinned, extracted_sha256=(("u.data", "0" * 64),))
    with (
        pytest.warns(UserWarning, match="ignoring"),
        pytest.raises(datasets.DatasetUnavailableError, match="failed verification"),
    ):
        datasets.load(wrong, download=False, movielens_dir=shared)


def test_archive_without_the_release_folder_is_not_marked(tmp_path: Path, isolated_data_dir: Path):
    wrong_layout = make_zip(tmp_path / "flat.zip", {"u.data": U_DATA, "u.item": U_ITEM})
    release = fake_release(wrong_layout, wrong_layout.as_uri())
    with pytest.raises(ValueError, match="has no ml-100k/"):
        datasets.load(release, progress=False)
    assert not (isolated_data_dir / "ml-100k").exists()


def test_concurrent_loads_share_one_extraction(archive: Path, isolated_data_dir: Path):
    release = fake_release(archive, archive.as_uri())
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(datasets.load(release, progress=False))
        except BaseException as exc:  # collected and re-raised below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4
    for r in results:
        assert isinstance(r, datasets.Dataset), r
        assert r.ratings.equals(results[0].ratings)
    assert contents(isolated_data_dir) == ["ml-100k", "ml-100k.zip"]
    assert (isolated_data_dir / "ml-100k" / MARKER).is_file()


def test_synthetic_dispatches_lazily(monkeypatch: pytest.MonkeyPatch):
    calls: list[dict] = []
    fake = types.ModuleType("recsys.datasets.synthetic")
    fake.generate = lambda **kw: calls.append(kw) or "generated"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recsys.datasets.synthetic", fake)
    monkeypatch.setattr(datasets, "synthetic", fake, raising=False)
    assert datasets.load("synthetic", n_users=5, seed=3) == "generated"
    assert calls == [{"n_users": 5, "seed": 3}]


def test_movielens_rejects_unknown_keyword(isolated_data_dir: Path):
    with pytest.raises(TypeError, match="n_users"):
        datasets.load("ml-latest-small", n_users=5)


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match=r"ml-latest-small.*ml-100k.*synthetic"):
        datasets.load("ml-7m")


def test_registry_entries_are_consistent():
    assert set(datasets.NAMES) == set(RELEASES) | {"synthetic"}
    for name, r in RELEASES.items():
        assert r.name == name
        assert r.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert r.filename == f"{name}.zip"
        assert (r.sha256 is not None and len(r.sha256) == 64) or (r.md5 and len(r.md5) == 32)
        assert r.rating_scale in ((1.0, 5.0), (0.5, 5.0))
    assert RELEASES["ml-10m"].folder == "ml-10M100K"
    assert RELEASES["ml-10m"].md5 == "ce571fd55effeba0271552578f2648bd"
    assert RELEASES["ml-100k"].sha256 == ("50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229")
    table = datasets.releases_table()
    assert list(table.index) == list(RELEASES)
    assert int(table.loc["ml-1m", "archive_bytes"]) == 5_917_549
    assert np.isnan(table.loc["ml-10m", "archive_bytes"])


def test_leftovers_of_a_killed_download_are_cleaned_by_the_next_run(archive, isolated_data_dir):
    from recsys.datasets.cache import clean_leftovers

    release = fake_release(archive, archive.resolve().as_uri())
    part = isolated_data_dir / "ml-100k.zip.part-0123456789ab"
    part.write_bytes(b"half a download")
    extract = isolated_data_dir / ".ml-100k.extract-ba9876543210"
    (extract / "ml-100k").mkdir(parents=True)
    (extract / "ml-100k" / "u.data").write_bytes(b"1\t2\t3\t4\n")
    other = isolated_data_dir / "ml-1m.zip.part-0123456789ab"  # another release's: not ours to touch
    other.write_bytes(b"x")
    datasets.load(release, progress=False)
    assert not part.exists() and not extract.exists() and other.exists()
    assert clean_leftovers(isolated_data_dir, release) == []


def test_a_data_folder_that_is_a_file_is_named(tmp_path: Path, monkeypatch, archive):
    """``$RECSYS_DATA_DIR`` (or a parent of it) pointing at a file: one clear error naming the file,
    not mkdir's bare ``FileExistsError`` about a path the user never typed."""
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    blocking = tmp_path / "data"
    blocking.write_text("not a folder")
    release = fake_release(archive, f"http://127.0.0.1:{closed_port()}/ml-100k.zip")
    for cache in (blocking, blocking / "cache"):
        monkeypatch.setenv("RECSYS_DATA_DIR", str(cache))
        with pytest.raises(NotADirectoryError, match=rf"data cache .*{blocking} is a file, not a folder"):
            datasets.load(release, progress=False)
