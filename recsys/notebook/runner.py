"""The notebook runner (the main job): execute the notebook sequence with papermill and keep what readers and tools read.

For each selected notebook ``notebooks/NN_name.ipynb`` the runner writes, under ``build/``:

* ``notebooks/NN_name.ipynb``: the executed notebook (kept, partial, when a cell fails);
* ``html/NN_name.html``: its rendering, figures included, and ``index.html`` linking them all;
* ``figures/NN_name/``: every figure as a PNG;
* ``results/NN_name.json``: the parameters used, the results the notebook recorded with
  :func:`recsys.notebook.results.record`, and the wall time.

When a notebook runs with its default parameters, its recorded results are compared with the ones
in the committed notebook (``notebooks/``), which carries the outputs of its default run: that is
how readers know the numbers they read are current. ``--publish`` copies default runs back into
``notebooks/`` (for maintainers, after a change that moves the numbers).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import time
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from recsys import paths
from recsys.notebook import machine
from recsys.notebook.results import compare_results, read_results, skipped
from recsys.progress import PROGRESS_ENV


class RunnerError(RuntimeError):
    """A run could not start or a notebook failed."""


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
    error: str | None = None


def discover(folder: Path | None = None) -> list[Path]:
    """The notebook sequence: ``NN_*.ipynb`` in ``folder`` (default ``notebooks/``), in order."""
    folder = folder or paths.notebooks_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.is_file())


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """The notebooks whose number (``01``, ``1``) or stem (``01_data_prep``) is in ``only``."""
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
            raise RunnerError(f"--only {key!r} matches no notebook; the notebooks are: {known}")
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


def render_html(notebook, path: Path) -> Path:
    """An HTML rendering of an executed notebook (figures embedded)."""
    import copy

    from nbconvert import HTMLExporter

    from recsys.notebook.results import MIME_TYPE

    shown = copy.deepcopy(notebook)
    for cell in shown.cells:  # recorded results are data for tools, not for the page
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if MIME_TYPE not in o.get("data", {})]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(shown)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def write_index(runs: list[NotebookRun], build: Path) -> Path:
    """``build/index.html``: one row per notebook with its status, time and links."""
    rows = []
    for run in runs:
        link = f'<a href="html/{escape(run.stem)}.html">{escape(run.stem)}</a>' if run.html else escape(run.stem)
        status = "ok" if run.ok else f"failed: {escape(run.error or '')}"
        if run.reproduction == []:
            repro = "reproduces the committed results"
        elif run.reproduction:
            repro = f"{len(run.reproduction)} result(s) differ from the committed notebook"
        else:
            repro = "not compared (non-default parameters)"
        params = escape(json.dumps(run.parameters, sort_keys=True))
        rows.append(
            f"<tr><td>{link}</td><td>{status}</td><td>{run.seconds:.1f} s</td><td>{repro}</td>"
            f"<td><code>{params}</code></td></tr>"
        )
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>recsys notebooks</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;"
        "text-align:left;vertical-align:top}code{font-size:.8em}</style></head><body>"
        "<h1>Vector-based retrieval for recommender systems: executed notebooks</h1>"
        f"<p>Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {escape(machine.summary())}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>wall time</th><th>reproducibility</th>"
        "<th>parameters</th></tr>" + "".join(rows) + "</table></body></html>"
    )
    path = build / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def _describe_failure(error) -> str:
    """One readable block for a failed cell: where, what, and the cell's source."""
    source = "\n".join("    " + line for line in (error.source or "").splitlines()[:25])
    return f"cell {error.cell_index} (In [{error.exec_count}]): {error.ename}: {error.evalue}\n{source}"


def run_notebook(
    source: Path,
    build: Path,
    overrides: dict[str, Any],
    *,
    progress: bool = True,
    html: bool = True,
    check: bool = True,
) -> NotebookRun:
    """Execute one notebook with papermill and write its outputs under ``build``."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    defaults = notebook_defaults(source)
    accepted = {k: v for k, v in overrides.items() if k in defaults}
    parameters = {**defaults, **accepted}
    is_default = all(defaults[k] == v for k, v in accepted.items())
    executed = build / "notebooks" / source.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    run = NotebookRun(source.stem, source, executed, parameters, is_default)

    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=accepted,
            kernel_name="python3",
            progress_bar=progress,
            cwd=str(source.parent),
        )
        run.ok = True
    except PapermillExecutionError as error:
        run.error = _describe_failure(error)
    run.seconds = time.perf_counter() - start

    notebook = nbformat.read(str(executed), as_version=4)
    run.results = read_results(notebook)
    run.skipped = skipped(notebook)
    if html:
        run.html = render_html(notebook, build / "html" / f"{source.stem}.html")
    if not run.ok:
        return run
    run.figures = extract_figures(notebook, build / "figures" / source.stem)
    if check and is_default:
        committed = read_results(source, comparable_only=True)
        if committed:
            run.reproduction = compare_results(
                committed, read_results(notebook, comparable_only=True), skipped=run.skipped
            )
    run.results_file = build / "results" / f"{source.stem}.json"
    run.results_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "notebook": source.stem,
        "parameters": parameters,
        "default_parameters": is_default,
        "results": run.results,
        "wall_time_seconds": round(run.seconds, 3),
        "executed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.summary(),
        "reproduces_committed": None if run.reproduction is None else not run.reproduction,
        "differences": run.reproduction or [],
        "skipped": run.skipped,
    }
    tmp = run.results_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, run.results_file)
    return run


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
    log=print,
) -> list[NotebookRun]:
    """Execute the selected notebooks in order; stop at the first failure.

    ``parameters`` go to every selected notebook that declares them; a name no selected notebook
    declares is an error (a typo would otherwise be silently ignored).
    """
    parameters = dict(parameters or {})
    selected = select(discover(notebooks_dir), only)
    if not selected:
        raise RunnerError(f"no notebooks found in {notebooks_dir or paths.notebooks_dir()}")
    declared = {name for nb in selected for name in notebook_defaults(nb)}
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise RunnerError(
            f"parameter(s) {', '.join(unknown)} not declared by any selected notebook; "
            f"declared: {', '.join(sorted(declared))}"
        )
    build = Path(build_dir or paths.build_dir())
    build.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("JUPYTER_PATH")
    previous_progress = os.environ.get(PROGRESS_ENV)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(_kernel_dir(build)), previous]))
    os.environ[PROGRESS_ENV] = "0"  # the kernels inherit it: no progress bars in executed notebooks
    runs: list[NotebookRun] = []
    try:
        for number, source in enumerate(selected, 1):
            log(f"[{number}/{len(selected)}] {source.stem}")
            result = run_notebook(source, build, parameters, progress=progress, html=html, check=check)
            runs.append(result)
            if not result.ok:
                log(f"FAILED {source.name} after {result.seconds:.1f} s in {result.error}")
                log(f"  the partial executed notebook is kept at {result.executed}")
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
            if publish and result.defaults:
                shutil.copyfile(result.executed, source)
                log(f"  published to {source}")
    finally:
        for name, value in (("JUPYTER_PATH", previous), (PROGRESS_ENV, previous_progress)):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if html and runs:
            log(f"index: {write_index(runs, build)}")
    return runs
