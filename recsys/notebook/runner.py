"""The notebook runner (the main job): execute the notebook sequence with papermill and keep what
readers and tools read.

For each selected notebook ``notebooks/NN_name.ipynb`` the runner writes, under ``build/``:

* ``notebooks/NN_name.ipynb``: the executed notebook (on failure: the partial notebook, with a
  failure banner as its first cell);
* ``html/NN_name.html``: its rendering, figures included, with a real ``<title>`` and links to the
  previous and next chapters and to the index;
* ``figures/NN_name/``: every figure as a PNG;
* ``results/NN_name.json``: the parameters used, the results the notebook recorded with
  :func:`recsys.notebook.results.record`, the wall time, the reproducibility verdict;
* ``runs/NN_name.json``: the status of the last run (ok or failed, and why), which is what
  ``index.html`` is built from.

**A notebook's outputs are one unit.** Everything is written to a staging folder first and moved
into place only when the run succeeded. When a run fails (a bad parameter, an error in a cell, a
dead kernel, Ctrl-C), the previous run's results and figures of that notebook are removed, so
nothing that looks current is left behind; the partial notebook and its HTML say "failed" at the
top; ``index.html`` says "failed" with the reason; the command exits non-zero.

``build/index.html`` is the report's table of contents: every chapter of the sequence with its
title and question, the status and wall time of its last run, the reproducibility verdict, the
parameters that differ from the defaults, the sections it skipped, and links to its HTML, figures
and results.

When a notebook runs with its default parameters, its recorded results are compared with the ones
in the committed notebook (``notebooks/``), which carries the outputs of its default run: that is
how readers know the numbers they read are current. ``--publish`` copies default runs back into
``notebooks/`` (for maintainers, after a change that moves the numbers).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from recsys import paths
from recsys.notebook import machine, pages
from recsys.notebook.results import MIME_TYPE, compare_results, read_results, skipped
from recsys.progress import PROGRESS_ENV

#: Exit codes of ``python -m recsys run`` (see :mod:`recsys.__main__`).
EXIT_FAILED, EXIT_USAGE, EXIT_NOT_REPRODUCED, EXIT_BUILD_DIR = 1, 2, 3, 4


#: Kernel environment that makes the numbers independent of which x86-64 CPU runs the notebooks:
#: OpenBLAS (numpy, scipy) and faiss otherwise pick AVX-512 kernels where the CPU has them and
#: AVX2 ones where it does not, and the two sum in different orders, which moves list overlaps
#: and near-tied rankings beyond the reproduction tolerance (seen: notebook 05 published on an
#: AVX-512 machine did not reproduce on an AVX2 one). Pinned to AVX2 wherever the CPU has it; a
#: value the user set wins (set it to an empty string to let the library choose).
PORTABLE_KERNELS = {"OPENBLAS_CORETYPE": "Haswell", "FAISS_SIMD_LEVEL": "AVX2"}


def _cpu_has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " avx2" in line for line in cpuinfo)
    except OSError:
        return False


def portable_kernel_environment() -> dict[str, str]:
    """The variables of :data:`PORTABLE_KERNELS` to set for the kernels (none on CPUs without AVX2)."""
    if not _cpu_has_avx2():
        return {}
    return {name: value for name, value in PORTABLE_KERNELS.items() if name not in os.environ}


#: Parameters that decide only how long things are timed (and which timings are taken), or feed
#: only figures that are never compared, per notebook, with the short values a reproduction check
#: uses. Everything they feed is recorded with ``compare=False``, so a run with these values
#: computes every compared value of the default run; a compared value they did move or drop would
#: show as a difference. (06's ``leader_methods``: the newest indexes' recall depends on the CPU
#: their wheels dispatch to, so it is recorded, not compared; the tiny run of the tests covers
#: that section's code.) ``run(quick_timings=True)``
#: (``python -m recsys run --quick-timings``) checks that the committed notebooks reproduce in less
#: time: 471 s -> 348 s for 06 and 224 s -> 86 s for 08 on the 2-core reference machine. Its
#: timings are not the chapter's and such a run is never published. (08's ``block_counts`` and
#: ``sweep_size`` also shape a compared table, so they stay. 06's ``build_repeats`` only changes the
#: rows of indexes whose builds do not repeat, of which nothing but tolerance-free facts is compared.)
QUICK_TIMINGS: dict[str, dict[str, Any]] = {
    "03_als_svd_sgd": {"timing_repeats": 1},
    "06_ann_recall_latency": {
        "timing_queries": 20,
        "max_timing_seconds": 0.02,
        "quiet_wait": 0.0,
        "build_repeats": 1,
        "headline_builds": 1,
        "headline_repeats": 1,
        "leader_methods": [],
    },
    "08_scale_out": {
        "scaling_sizes": [100_000, 300_000],
        "core_counts": [1],
        "warm_up_fits": 1,
        "retrieval_repeats": 1,
    },
}


class Terminated(BaseException):
    """SIGTERM (what ``timeout``, a CI cancel or ``kill`` send) while :func:`run` runs: raised like
    Ctrl-C's ``KeyboardInterrupt``, so the notebook that was running is marked failed, its
    previous outputs removed and its staging folder cleaned before the process exits."""


def _raise_terminated(signum, frame):  # noqa: ARG001 - the signal module's handler signature
    raise Terminated("terminated (SIGTERM)")


#: What interrupts a run from outside: Ctrl-C and SIGTERM.
INTERRUPTS = (KeyboardInterrupt, Terminated)

#: How long a notebook's kernel may take to start (papermill's default is 60 s). On a 2-core
#: machine busy with two notebook runs a kernel start was measured past 60 s (make test's
#: 06 reproduction failed with "Kernel didn't respond in 60 seconds"); a slow start is not a
#: failure of the notebook.
KERNEL_START_SECONDS = 300


class RunnerError(RuntimeError):
    """A run could not start (bad selection, unknown parameter)."""


class BuildDirError(RunnerError):
    """The build folder (or the data cache) cannot be written."""


@dataclass
class NotebookRun:
    """What one notebook execution produced."""

    stem: str
    source: Path
    executed: Path
    parameters: dict[str, Any]
    defaults: bool
    seconds: float = 0.0
    ok: bool = False
    results: dict = field(default_factory=dict)
    html: Path | None = None
    figures: list[Path] = field(default_factory=list)
    results_file: Path | None = None
    reproduction: list[str] | None = None  # None: not checked; []: reproduces; else the differences
    skipped: dict[str, str] = field(default_factory=dict)  # sections this run could not compute
    error: str | None = None  # why it failed: the exception type and message ("ParameterError: ...")
    failed_cell: str | None = None  # where: "In [2]" (as the page numbers it) and the start of its source
    changed: dict[str, Any] = field(default_factory=dict)  # parameters that differ from the defaults
    quick_timings: dict[str, Any] = field(default_factory=dict)  # the QUICK_TIMINGS values it ran with


# ------------------------------------------------------------------------------------------------
# the sequence and its parameters


def discover(folder: Path | None = None) -> list[Path]:
    """The notebook sequence: ``NN_*.ipynb`` in ``folder`` (default ``notebooks/``), in order."""
    folder = folder or paths.notebooks_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.is_file())


def select(notebooks: list[Path], only: list[str] | None, option: str = "--only") -> list[Path]:
    """The notebooks whose number (``01``, ``1``) or stem (``01_data_prep``) is in ``only``
    (``option`` names the command-line option in the error)."""
    if not only:
        return list(notebooks)
    chosen = []
    for key in only:
        key = key.removesuffix(".ipynb")
        hits = [
            nb
            for nb in notebooks
            if nb.stem == key or nb.stem.split("_", 1)[0] == key or (key.isdigit() and int(nb.stem[:2]) == int(key))
        ]
        if not hits:
            known = ", ".join(nb.stem for nb in notebooks) or "none"
            raise RunnerError(f"{option} {key!r} matches no notebook; the notebooks are: {known}")
        chosen.extend(h for h in hits if h not in chosen)
    return sorted(chosen)


def parse_value(text: str) -> Any:
    """A command-line parameter value: a Python/JSON literal if it parses as one, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return json.loads(text)
        except ValueError:
            return text


def notebook_defaults(path: Path) -> dict[str, Any]:
    """The default values in a notebook's ``parameters`` cell."""
    import papermill

    found = papermill.inspect_notebook(str(path))
    defaults = {}
    for name, info in found.items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            defaults[name] = info["default"]
    return defaults


def notebook_heading(path_or_notebook) -> tuple[str, str]:
    """(title, question) of a chapter: its first ``# `` heading, and the first ``> `` quote of its
    first markdown cell (the question it answers), both as plain text."""
    import nbformat

    nb = path_or_notebook
    if isinstance(nb, (str, Path)):
        nb = nbformat.read(str(nb), as_version=4)
    title, question = "", ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if not title and line.startswith("# "):
                title = line[2:].strip()
            elif not question and line.startswith(">"):
                question = line.lstrip("> ").strip()
        break
    plain = re.compile(r"\*\*|\*|`|__")
    return plain.sub("", title), plain.sub("", question)


# ------------------------------------------------------------------------------------------------
# committed runs with other parameters (notebooks/results/)

#: The tag papermill gives the cell it injects with the parameters of a run.
INJECTED_TAG = "injected-parameters"


def results_dir(notebooks_dir: Path | None = None) -> Path:
    """``notebooks/results/``: committed runs of chapters with other parameters."""
    return (notebooks_dir or paths.notebooks_dir()) / "results"


@dataclass
class CommittedRun:
    """A committed run under ``notebooks/results/``: which chapter it ran, with which parameters."""

    path: Path
    source: Path
    parameters: dict[str, Any]
    finished: str | None = None  # papermill's end time (ISO 8601, UTC)
    duration_s: float | None = None  # papermill's wall time of the run

    @property
    def name(self) -> str:
        return self.path.stem

    def results(self) -> dict:
        """Everything the run recorded (:func:`recsys.notebook.results.read_results`), compared
        values and timings alike: what a chapter shows of a committed run it cannot redo."""
        return read_results(self.path)


def injected_parameters(notebook) -> dict[str, Any]:
    """The parameters papermill injected into an executed notebook (its cell tagged
    ``injected-parameters``), as values; ``{}`` when it has none."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            found = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    found[node.targets[0].id] = ast.literal_eval(node.value)
            return found
    return {}


def committed_run(path: Path, notebooks_dir: Path | None = None) -> CommittedRun:
    """Read a committed run: the chapter it is a run of (papermill's ``input_path``, else the
    chapter with the same number) and the parameters it ran with (papermill's record of them,
    else its injected-parameters cell)."""
    import nbformat

    path = Path(path)
    folder = notebooks_dir or path.parent.parent
    nb = nbformat.read(str(path), as_version=4)
    recorded = nb.metadata.get("papermill", {})
    parameters = dict(recorded.get("parameters") or injected_parameters(nb))
    candidates = []
    if recorded.get("input_path"):
        candidates = [folder / Path(recorded["input_path"]).name]
    candidates += [nb_ for nb_ in discover(folder) if nb_.stem[:2] == path.stem[:2]]
    source = next((c for c in candidates if c.is_file()), None)
    if source is None:
        raise RunnerError(f"{path}: no chapter in {folder} to regenerate it from")
    duration = recorded.get("duration")
    return CommittedRun(
        path, source, parameters, recorded.get("end_time"), float(duration) if duration is not None else None
    )


def results_drift(path: Path, notebooks_dir: Path | None = None) -> list[str]:
    """How a committed run's cells differ from its chapter's current source, as readable lines
    numbered as the source's cells (empty = it was produced by the current source). Papermill's
    injected-parameters cell is the one cell a run adds; outputs are not compared."""
    import nbformat

    committed = committed_run(path, notebooks_dir)
    ran = [c for c in nbformat.read(str(path), as_version=4).cells if INJECTED_TAG not in c.metadata.get("tags", [])]
    ran = [c for c in ran if "recsys-failure" not in c.metadata.get("tags", [])]
    now = nbformat.read(str(committed.source), as_version=4).cells
    problems = []
    for index, (old, new) in enumerate(zip(ran, now)):
        if (old.cell_type, old.source) != (new.cell_type, new.source):
            first = next((line for line in new.source.splitlines() if line.strip()), "")
            problems.append(
                f"cell {index} ({new.cell_type}, now starting {first[:60]!r}) differs from {committed.source.name}"
            )
    if len(ran) != len(now):
        problems.append(f"{len(ran)} cells, {committed.source.name} has {len(now)}")
    return problems


# ------------------------------------------------------------------------------------------------
# the build folder


def check_writable(folder: Path, what: str) -> Path:
    """``folder`` created if needed and writable, else :class:`BuildDirError` naming it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BuildDirError(f"{what} {folder} is a file, not a folder; choose another path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        raise BuildDirError(f"{what} {folder} is not writable ({error.strerror or error})") from None
    return folder


def _kernel_dir(build: Path) -> Path:
    """A Jupyter data folder whose ``python3`` kernel is this very interpreter.

    Whatever ``python3`` kernels the user has elsewhere, the notebooks then run in the environment
    the runner runs in, with the ``recsys`` package it sees.
    """
    root = build / ".jupyter"
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (recsys)",
                "language": "python",
                "metadata": {"debugger": True},
            },
            indent=1,
        )
    )
    return root


def _replace(src: Path, dst: Path) -> None:
    """Move ``src`` (file or folder) to ``dst``, replacing what was there."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# rendering


def extract_figures(notebook, folder: Path) -> list[Path]:
    """Write every PNG output of an executed notebook to ``folder`` as ``figure_01.png``, ... in order."""
    if folder.exists():
        shutil.rmtree(folder)
    written = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"figure_{len(written) + 1:02d}.png"
                path.write_bytes(b64decode(png))
                written.append(path)
    return written


_NAV_STYLE = (
    "<style>.recsys-nav{font-family:sans-serif;font-size:14px;padding:.5em 1em;background:#f4f4f4;"
    "border-bottom:1px solid #ddd;display:flex;gap:1.5em}.recsys-nav a{text-decoration:none}"
    ".recsys-failed{background:#fde8e8;color:#8a1c1c;padding:.7em 1em;font-family:sans-serif}</style>"
)


def _nav_html(previous: tuple[str, str] | None, following: tuple[str, str] | None) -> str:
    parts = ['<a href="../index.html">&uarr; all notebooks</a>']
    if previous:
        parts.append(f'<a rel="prev" href="{escape(previous[0])}.html">&larr; {escape(previous[1])}</a>')
    if following:
        parts.append(f'<a rel="next" href="{escape(following[0])}.html">{escape(following[1])} &rarr;</a>')
    return f'<nav class="recsys-nav">{"".join(parts)}</nav>'


def render_html(
    notebook,
    path: Path,
    *,
    title: str | None = None,
    previous: tuple[str, str] | None = None,
    following: tuple[str, str] | None = None,
    failure: str | None = None,
) -> Path:
    """An HTML page of an executed notebook: figures embedded, equations as MathML and no script
    from the network (it reads the same offline, see :mod:`recsys.notebook.pages`), a ``<title>``,
    navigation links to the index and the neighbouring chapters (``(stem, title)`` pairs), and a
    failure banner."""
    import copy

    shown = copy.deepcopy(notebook)
    for cell in shown.cells:  # recorded results are data for tools, not for the page
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if MIME_TYPE not in o.get("data", {})]
    title = title or path.stem
    body = pages.notebook_html(shown, title)
    banner = f'<div class="recsys-failed">This run failed: {escape(failure)}</div>' if failure else ""
    nav = _NAV_STYLE + _nav_html(previous, following) + banner
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    if "<title>" not in body:  # pragma: no cover - every nbconvert template has one
        body = body.replace("<head>", f"<head><title>{escape(title)}</title>", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _status(payload: dict) -> str:
    if payload.get("status") == "ok":
        return "ok"
    return "failed"


def _shorten(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_index(notebooks: list[Path], build: Path, extra: list[Path] = ()) -> Path:
    """``build/index.html``: the table of contents, one row per chapter of the sequence, from the
    status file of its last run (``runs/NN.json``); chapters never run here say so. The committed
    runs with other parameters (``extra``: ``notebooks/results/``) follow, those run in this build."""
    rows = []
    for nb, is_extra in [*((nb, False) for nb in notebooks), *((nb, True) for nb in extra)]:
        title, question = notebook_heading(nb)
        status_file = build / "runs" / f"{nb.stem}.json"
        payload = json.loads(status_file.read_text()) if status_file.is_file() else None
        head = f"<strong>{escape(title or nb.stem)}</strong><br><em>{escape(question)}</em>"
        if is_extra:
            if payload is None:
                continue
            if not any("recsys-results-runs" in row for row in rows):
                rows.append(
                    '<tr class="recsys-results-runs"><th colspan="6">Committed runs with other parameters '
                    "(<code>notebooks/results/</code>, regenerated by <code>python -m recsys run --results</code>)"
                    "</th></tr>"
                )
            head = f"<strong>{escape(title or nb.stem)}</strong><br><code>results/{escape(nb.name)}</code>"
        if payload is None:
            rows.append(f"<tr><td>{head}</td><td>not run in this build</td><td></td><td></td><td></td><td></td></tr>")
            continue
        links = []
        if payload.get("html"):
            links.append(f'<a href="{escape(payload["html"])}">page</a>')
        if payload.get("results"):
            links.append(f'<a href="{escape(payload["results"])}">results JSON</a>')
        links.append(f'<a href="{escape(payload["notebook"])}">notebook</a>')
        figures = payload.get("figures", [])
        if figures:
            links.append("figures " + " ".join(f'<a href="{escape(f)}">{i}</a>' for i, f in enumerate(figures, 1)))
        if _status(payload) == "ok":
            status = "ok"
        else:
            status = f'<span style="color:#a00">failed</span>: <code style="white-space:pre-wrap">{escape(_shorten(payload.get("error") or "unknown error"))}</code>'
            if payload.get("failed_cell"):
                status += f"<br><small>raised at {escape(payload['failed_cell'])}</small>"
        repro = payload.get("reproduction")
        if repro == "reproduces":
            verdict = "reproduces the committed results"
        elif repro == "differs":
            verdict = f"{len(payload.get('differences', []))} result(s) differ from the committed notebook"
        elif _status(payload) != "ok":
            verdict = "not checked (the run failed)"
        else:
            verdict = "not compared (non-default parameters)"
        changed = payload.get("changed_parameters") or {}
        changed_html = (
            "<code>" + escape(", ".join(f"{k}={v!r}" for k, v in changed.items())) + "</code>"
            if changed
            else "defaults"
        )
        if payload.get("quick_timings"):
            changed_html += "<br><small>quick timings: its timings are not the chapter's</small>"
        skipped_html = "<br>".join(f"{escape(k)}: {escape(v)}" for k, v in (payload.get("skipped") or {}).items())
        rows.append(
            f"<tr><td>{head}<br>{' &middot; '.join(links)}</td><td>{status}<br><small>{escape(payload.get('finished_at', ''))}"
            f"</small></td><td>{payload.get('wall_time_seconds', 0):.1f} s</td><td>{verdict}</td>"
            f"<td>{changed_html}</td><td>{skipped_html or '&ndash;'}</td></tr>"
        )
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Vector-based retrieval for recommender systems: "
        "the notebooks</title><style>body{font-family:sans-serif;margin:2em;max-width:80em}td,th{padding:.4em .8em;"
        "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}code{font-size:.85em}</style></head><body>"
        "<h1>Vector-based retrieval for recommender systems</h1>"
        f"<p>Executed notebooks, built {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
        f"{escape(machine.one_line())}.</p>"
        "<table><tr><th>chapter</th><th>status</th><th>wall time</th><th>reproducibility</th>"
        "<th>parameters</th><th>skipped sections</th></tr>" + "".join(rows) + "</table></body></html>"
    )
    path = build / "index.html"
    tmp = build / ".index.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------------------
# running one notebook


def _describe_failure(error) -> tuple[str, str]:
    """(what, where) of a failed cell: the exception type and message, as the last line of
    papermill's traceback gives it; and the cell, by the number the page shows it under
    (``In [2]``), with the start of its source."""
    what = f"{error.ename}: {error.evalue}".strip() if error.evalue else str(error.ename)
    source = "\n".join("    " + line for line in (error.source or "").splitlines()[:25])
    return what, f"In [{error.exec_count}]\n{source}".rstrip()


def _mark_failed(path: Path, reason: str):
    """Read the partial executed notebook at ``path`` (if any) and put a failure banner on top."""
    import nbformat
    from nbformat.v4 import new_markdown_cell

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - the partial file may be missing or truncated
        return None
    first_line = reason.splitlines()[0] if reason else "unknown error"
    nb.cells.insert(0, new_markdown_cell(f"**This run failed** and its outputs are incomplete: {first_line}"))
    nb.cells[0].metadata["tags"] = ["recsys-failure"]
    nbformat.write(nb, str(path))
    return nb


def run_notebook(
    source: Path,
    build: Path,
    overrides: dict[str, Any],
    *,
    progress: bool = True,
    html: bool = True,
    check: bool = True,
    neighbours: tuple[tuple[str, str] | None, tuple[str, str] | None] = (None, None),
    name: str | None = None,
    reference: Path | None = None,
    quick_timings: bool = False,
) -> NotebookRun:
    """Execute one notebook with papermill and write its outputs under ``build`` as one unit.

    ``name`` names the outputs (default: the notebook's stem); the recorded results are compared
    with those of ``reference`` (default: the committed notebook itself, for a default run only).
    ``quick_timings`` runs with the notebook's :data:`QUICK_TIMINGS` (for the parameters not in
    ``overrides``): a run that changes nothing else still counts as a default run and is compared.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    defaults = notebook_defaults(source)
    accepted = {k: v for k, v in overrides.items() if k in defaults}
    parameters = {**defaults, **accepted}
    changed = {k: v for k, v in accepted.items() if defaults[k] != v}
    is_default = not changed
    quick = {}
    if quick_timings:
        quick = {k: v for k, v in QUICK_TIMINGS.get(source.stem, {}).items() if k in defaults and k not in accepted}
        accepted, parameters, changed = {**accepted, **quick}, {**parameters, **quick}, {**changed, **quick}
    stem = name or source.stem
    if reference is None and is_default:
        reference = source
    final = {
        "notebook": build / "notebooks" / f"{stem}.ipynb",
        "html": build / "html" / f"{stem}.html",
        "figures": build / "figures" / stem,
        "results": build / "results" / f"{stem}.json",
    }
    run = NotebookRun(stem, source, final["notebook"], parameters, is_default, changed=changed, quick_timings=quick)
    title = notebook_heading(source)[0] or source.stem
    if name and name != source.stem and changed:
        title = f"{title} ({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{stem}-", dir=build))
    staged_nb = staging / f"{stem}.ipynb"
    started = datetime.now(UTC)
    start = time.perf_counter()
    interrupted = None
    try:
        try:
            papermill.execute_notebook(
                str(source),
                str(staged_nb),
                parameters=accepted,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(source.parent),
                start_timeout=KERNEL_START_SECONDS,
            )
            run.ok = True
        except PapermillExecutionError as error:
            run.error, run.failed_cell = _describe_failure(error)
        except INTERRUPTS as error:
            run.error = "interrupted (Ctrl-C)" if isinstance(error, KeyboardInterrupt) else str(error)
            interrupted = error
        except Exception as error:  # noqa: BLE001 - a dead kernel, a timeout, a broken notebook file
            run.error = f"{type(error).__name__}: {error}".strip()
        run.seconds = time.perf_counter() - start

        if not run.ok:
            # never leave a result that looks current: drop this notebook's previous outputs
            for key in ("figures", "results"):
                _remove(final[key])
            _remove(build / "runs" / f"{stem}.json")  # no "ok" of the last run beside what follows
            try:
                partial = _mark_failed(staged_nb, run.error or "")
                if partial is not None:
                    _replace(staged_nb, final["notebook"])
                    if html:
                        run.html = render_html(
                            partial,
                            final["html"],
                            title=title,
                            previous=neighbours[0],
                            following=neighbours[1],
                            failure=(run.error or "").splitlines()[0],
                        )
                else:
                    _remove(final["notebook"])
                    _remove(final["html"])
            except OSError as error:  # a full disk, say: the partial notebook is not kept either
                run.html = None
                run.error = f"{run.error}; its partial notebook could not be written ({error})"
                _remove(final["notebook"])
                _remove(final["html"])
            with contextlib.suppress(OSError):
                _write_status(build, run, started, final)
            if interrupted is not None:
                raise interrupted
            return run

        try:
            notebook = nbformat.read(str(staged_nb), as_version=4)
            run.results = read_results(notebook)
            run.skipped = skipped(notebook)
            figures = extract_figures(notebook, staging / "figures")
            if html:
                render_html(
                    notebook, staging / "page.html", title=title, previous=neighbours[0], following=neighbours[1]
                )
            if check and reference is not None:
                committed = read_results(reference, comparable_only=True)
                if committed:
                    run.reproduction = compare_results(
                        committed, read_results(notebook, comparable_only=True), skipped=run.skipped
                    )
            payload = {
                "notebook": stem,
                "source": source.name,
                "title": title,
                "parameters": parameters,
                "default_parameters": is_default,
                "changed_parameters": changed,
                "quick_timings": quick,
                "results": run.results,
                "wall_time_seconds": round(run.seconds, 3),
                "executed_at": started.isoformat(timespec="seconds"),
                "machine": machine.one_line(),
                "reproduces_committed": None if run.reproduction is None else not run.reproduction,
                "differences": run.reproduction or [],
                "skipped": run.skipped,
            }
            _write_json(staging / "results.json", payload)

            # the unit moves into place together; until its status says ok, none of it counts: a crash
            # between two moves leaves no "ok" beside a mix of this run's and the last run's files
            _remove(build / "runs" / f"{stem}.json")
            _replace(staged_nb, final["notebook"])
            if figures:
                _replace(staging / "figures", final["figures"])
            else:
                _remove(final["figures"])
            run.figures = [final["figures"] / p.name for p in figures]
            if html:
                _replace(staging / "page.html", final["html"])
                run.html = final["html"]
            _replace(staging / "results.json", final["results"])
            run.results_file = final["results"]
            _write_status(build, run, started, final)
            return run
        except BaseException as error:  # noqa: BLE001 - every failure while writing marks the run failed
            run.ok = False
            what = str(error) if isinstance(error, Terminated) else f"{type(error).__name__}: {error}".strip(": ")
            if isinstance(error, KeyboardInterrupt):
                what = "interrupted (Ctrl-C)"
            run.error = f"{what}, while writing its outputs"
            run.figures, run.html, run.results_file = [], None, None
            for key in final:  # a half-written unit must not be read as this run's or the last one's
                _remove(final[key])
            with contextlib.suppress(OSError):  # best effort: a full disk may refuse this too
                _write_status(build, run, started, final)
            if isinstance(error, INTERRUPTS):
                raise
            return run
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_status(build: Path, run: NotebookRun, started: datetime, final: dict[str, Path]) -> None:
    """``runs/NN.json``: what the index shows for this notebook (paths relative to ``build``)."""
    rel = lambda p: p.relative_to(build).as_posix()  # noqa: E731
    reproduction = None if run.reproduction is None else ("reproduces" if not run.reproduction else "differs")
    _write_json(
        build / "runs" / f"{run.stem}.json",
        {
            "notebook": rel(final["notebook"]),
            "status": "ok" if run.ok else "failed",
            "error": run.error,
            "failed_cell": run.failed_cell.splitlines()[0] if run.failed_cell else None,
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_time_seconds": round(run.seconds, 3),
            "changed_parameters": run.changed,
            "quick_timings": run.quick_timings,
            "reproduction": reproduction,
            "differences": run.reproduction or [],
            "skipped": run.skipped,
            "html": rel(run.html) if run.html else None,
            "results": rel(run.results_file) if run.results_file else None,
            "figures": [rel(p) for p in run.figures],
        },
    )


# ------------------------------------------------------------------------------------------------
# running the sequence


def run(
    only: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    *,
    notebooks_dir: Path | None = None,
    build_dir: Path | None = None,
    progress: bool = True,
    html: bool = True,
    check: bool = True,
    publish: bool = False,
    results: list[str] | None = None,
    quick_timings: bool = False,
    log=print,
) -> list[NotebookRun]:
    """Execute the selected notebooks in order; stop at the first failure.

    ``parameters`` go to every selected notebook that declares them; a name no selected notebook
    declares is an error (a typo would otherwise be silently ignored).

    ``results`` (a list of names or numbers; empty: all) regenerates committed runs of
    ``notebooks/results/`` instead: each runs its chapter's current source with the parameters
    recorded in it, is compared with it, and with ``publish`` replaces it.

    ``quick_timings`` shortens the timing loops (:data:`QUICK_TIMINGS`): the reproduction check
    in less time. Its timings are not the chapters', so it cannot be combined with ``publish``.
    """
    parameters = dict(parameters or {})
    if quick_timings and publish:
        raise RunnerError("--quick-timings shortens the chapters' timings: such a run is never published")
    sequence = discover(notebooks_dir)
    if results is not None:
        if only or parameters:
            raise RunnerError(
                "--results runs each committed run with the parameters recorded in it: "
                "it takes no --only, -p or --dataset"
            )
        committed = [
            committed_run(p, notebooks_dir) for p in select(discover(results_dir(notebooks_dir)), results, "--results")
        ]
        if not committed:
            raise RunnerError(f"no committed runs found in {results_dir(notebooks_dir)}")
        for c in committed:
            stale = sorted(set(c.parameters) - set(notebook_defaults(c.source)))
            if stale:
                raise RunnerError(
                    f"{c.path.name} ran {c.source.name} with parameter(s) {', '.join(stale)}, "
                    "which it no longer declares; rerun it by hand with the new names"
                )
        jobs = [(c.source, c.parameters, c.name, c.path) for c in committed]
    else:
        selected = select(sequence, only)
        if not selected:
            raise RunnerError(f"no notebooks found in {notebooks_dir or paths.notebooks_dir()}")
        declared = {name for nb in selected for name in notebook_defaults(nb)}
        unknown = sorted(set(parameters) - declared)
        if unknown:
            raise RunnerError(
                f"parameter(s) {', '.join(unknown)} not declared by any selected notebook; "
                f"declared: {', '.join(sorted(declared))}"
            )
        jobs = [(nb, parameters, None, None) for nb in selected]
    build = check_writable(Path(build_dir or paths.build_dir()), "the build folder")
    data_env = os.environ.get(paths.DATA_DIR_ENV)
    if data_env:
        check_writable(Path(data_env), f"${paths.DATA_DIR_ENV}")
    titles = {nb.stem: notebook_heading(nb)[0] or nb.stem for nb in sequence}
    stems = [nb.stem for nb in sequence]

    def neighbours(stem):
        i = stems.index(stem)
        prev = (stems[i - 1], titles[stems[i - 1]]) if i > 0 else None
        nxt = (stems[i + 1], titles[stems[i + 1]]) if i + 1 < len(stems) else None
        return prev, nxt

    previous = os.environ.get("JUPYTER_PATH")
    previous_progress = os.environ.get(PROGRESS_ENV)
    previous_build = os.environ.get(paths.BUILD_DIR_ENV)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(_kernel_dir(build)), previous]))
    os.environ[PROGRESS_ENV] = "0"  # the kernels inherit it: no progress bars in executed notebooks
    # and the build folder: a chapter's own outputs (06's caches) go under --build-dir, never into
    # the checkout, which may be read-only, and two builds never share a cache
    os.environ[paths.BUILD_DIR_ENV] = str(build.resolve())
    pinned = portable_kernel_environment()
    os.environ.update(pinned)  # the kernels inherit these too (see PORTABLE_KERNELS)
    runs: list[NotebookRun] = []
    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
        previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        for number, (source, overrides, name, committed_path) in enumerate(jobs, 1):
            if committed_path is None:
                log(f"[{number}/{len(jobs)}] {source.stem}")
            else:
                shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "its defaults"
                log(f"[{number}/{len(jobs)}] {committed_path.parent.name}/{name}: {source.stem} with {shown}")
            result = run_notebook(
                source,
                build,
                overrides,
                progress=progress,
                html=html,
                check=check,
                neighbours=neighbours(source.stem) if committed_path is None else (None, None),
                name=name,
                reference=committed_path,
                quick_timings=quick_timings,
            )
            runs.append(result)
            if not result.ok:
                log(f"FAILED {source.name} after {result.seconds:.1f} s: {result.error}")
                if result.failed_cell:
                    log(f"  raised at {result.failed_cell}")
                log(f"  its previous results and figures were removed; the partial notebook is at {result.executed}")
                break
            log(f"  done in {result.seconds:.1f} s -> {result.results_file}")
            for name, reason in result.skipped.items():
                log(f"  skipped {name}: {reason}")
            if result.reproduction == []:
                log(
                    "  reproduces the results recorded in the committed notebook"
                    + (" (skipped sections not compared)" if result.skipped else "")
                )
            elif result.reproduction:
                log(f"  {len(result.reproduction)} result(s) differ from the committed notebook:")
                for line in result.reproduction[:20]:
                    log(f"    {line}")
            if publish and committed_path is not None:
                shutil.copyfile(result.executed, committed_path)
                log(f"  published to {committed_path}")
            elif publish and result.defaults:
                shutil.copyfile(result.executed, source)
                log(f"  published to {source}")
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        for name in pinned:
            os.environ.pop(name, None)
        for name, value in (
            ("JUPYTER_PATH", previous),
            (PROGRESS_ENV, previous_progress),
            (paths.BUILD_DIR_ENV, previous_build),
        ):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if html:
            log(f"index: {write_index(sequence, build, extra=discover(results_dir(notebooks_dir)))}")
    return runs
