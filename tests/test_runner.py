"""The notebook runner and the result recorder, on tiny throw-away notebooks."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from recsys.__main__ import main
from recsys.notebook import runner
from recsys.notebook.results import MIME_TYPE, compare_results, flatten, read_results, record, to_jsonable


def make_notebook(path: Path, parameters: str, *body: str) -> Path:
    params = new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# test"), params, *(new_code_cell(src) for src in body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


GOOD = (
    "scale = 2\nlabel = 'x'",
    "from recsys.notebook import params\nparams.integer('scale', scale, minimum=1)",
    "from recsys.notebook.results import record\nimport matplotlib.pyplot as plt\n"
    "record('metrics.rmse', 0.5 * scale)\nrecord('metrics.n', 3 * scale)\nrecord('label', label)\n"
    "record('timing.seconds', 123.0, compare=False)\n"
    "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.show()",
)


@pytest.fixture
def workspace(tmp_path):
    notebooks = tmp_path / "notebooks"
    make_notebook(notebooks / "01_first.ipynb", *GOOD)
    make_notebook(
        notebooks / "02_second.ipynb",
        "factor = 1.5",
        "from recsys.notebook.results import record\nrecord('y', factor * 2)",
    )
    return notebooks, tmp_path / "build"


def test_discover_and_select(workspace):
    notebooks, _ = workspace
    (notebooks / "README.ipynb").write_text("{}")  # not part of the sequence
    found = runner.discover(notebooks)
    assert [p.stem for p in found] == ["01_first", "02_second"]
    assert [p.stem for p in runner.select(found, ["2"])] == ["02_second"]
    assert [p.stem for p in runner.select(found, ["01_first", "02"])] == ["01_first", "02_second"]
    with pytest.raises(runner.RunnerError, match="matches no notebook"):
        runner.select(found, ["07"])


@pytest.mark.parametrize(
    "text, value",
    [
        ("10", 10),
        ("0.5", 0.5),
        ("true", True),
        ("False", False),
        ("none", None),
        ("[1, 2]", [1, 2]),
        ("ml-100k", "ml-100k"),
        ("'quoted'", "quoted"),
        ('{"a": 1}', {"a": 1}),
    ],
)
def test_parse_value(text, value):
    assert runner.parse_value(text) == value


def test_run_writes_notebooks_html_figures_and_results(workspace):
    notebooks, build = workspace
    lines = []
    runs = runner.run(
        parameters={"scale": 3}, notebooks_dir=notebooks, build_dir=build, progress=False, log=lines.append
    )
    assert [r.ok for r in runs] == [True, True]
    first = runs[0]
    assert first.parameters == {"scale": 3, "label": "x"} and not first.defaults
    payload = json.loads((build / "results" / "01_first.json").read_text())
    assert payload["parameters"] == {"scale": 3, "label": "x"}
    assert payload["results"] == {"metrics": {"rmse": 1.5, "n": 9}, "label": "x", "timing": {"seconds": 123.0}}
    assert payload["wall_time_seconds"] > 0
    assert payload["reproduces_committed"] is None  # non-default parameters are not compared
    # the second notebook does not declare `scale`, so it runs on its defaults
    assert json.loads((build / "results" / "02_second.json").read_text())["results"] == {"y": 3.0}
    assert (build / "notebooks" / "01_first.ipynb").exists()
    html = (build / "html" / "01_first.html").read_text()
    assert "<img" in html or "image/png" in html
    assert [p.name for p in first.figures] == ["figure_01.png"]
    assert first.figures[0].read_bytes()[:4] == b"\x89PNG"
    index = (build / "index.html").read_text()
    assert "html/01_first.html" in index and "html/02_second.html" in index


def test_failure_stops_the_run_and_keeps_the_partial_notebook(workspace):
    notebooks, build = workspace
    lines = []
    runs = runner.run(
        parameters={"scale": 0}, notebooks_dir=notebooks, build_dir=build, progress=False, log=lines.append
    )
    assert len(runs) == 1 and not runs[0].ok  # 02 never ran
    text = "\n".join(lines)
    assert "ParameterError" in text and "'scale'" in text and "params.integer" in text
    assert (build / "notebooks" / "01_first.ipynb").exists()
    assert not (build / "results" / "01_first.json").exists()


def test_unknown_parameter_is_an_error(workspace):
    notebooks, build = workspace
    with pytest.raises(runner.RunnerError, match="scael"):
        runner.run(
            parameters={"scael": 3}, notebooks_dir=notebooks, build_dir=build, progress=False, log=lambda _: None
        )


def test_publish_then_check_reproduction(workspace):
    notebooks, build = workspace
    quiet = dict(notebooks_dir=notebooks, build_dir=build, progress=False, html=False, log=lambda _: None)
    first = runner.run(only=["01"], publish=True, **quiet)[0]
    assert first.defaults and first.reproduction is None  # nothing recorded in the source yet
    assert read_results(notebooks / "01_first.ipynb")["metrics"] == {"rmse": 1.0, "n": 6}
    again = runner.run(only=["01"], **quiet)[0]
    assert again.reproduction == []
    # tamper with the committed record: the check must notice
    nb = nbformat.read(str(notebooks / "01_first.ipynb"), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            payload = out.get("data", {}).get(MIME_TYPE)
            if payload and payload["name"] == "metrics.rmse":
                payload["value"] = 1.1
    nbformat.write(nb, str(notebooks / "01_first.ipynb"))
    tampered = runner.run(only=["01"], **quiet)[0]
    assert tampered.reproduction == ["metrics.rmse: reference 1.1, now 1.0"]


def test_cli_exit_codes(workspace, capsys):
    notebooks, build = workspace
    base = ["run", "--build-dir", str(build), "--quiet", "--no-html"]
    runner_discover = runner.discover
    try:
        runner.discover = lambda folder=None: runner_discover(notebooks)
        assert main(base + ["--only", "02", "-p", "factor", "2"]) == 0
        assert json.loads((build / "results" / "02_second.json").read_text())["results"] == {"y": 4}
        assert main(base + ["-p", "nope", "1"]) == 2
        assert "nope" in capsys.readouterr().err
        assert main(base + ["--only", "01", "-p", "scale", "-1"]) == 1
    finally:
        runner.discover = runner_discover


def test_record_outside_a_notebook_returns_the_value():
    import numpy as np

    assert record("a.b", np.float32(1.5)) == np.float32(1.5)
    with pytest.raises(ValueError, match="dotted"):
        record("a..b", 1)
    with pytest.raises(TypeError, match="cannot convert"):
        to_jsonable(object())
    assert to_jsonable({"x": np.arange(3), "y": (np.int64(2), float("nan"))}) == {"x": [0, 1, 2], "y": [2, None]}


def test_compare_results_tolerance_and_structure():
    ref = {"a": {"x": 1.0, "n": 5}, "s": "ok", "l": [1.0, 2.0]}
    assert compare_results(ref, {"a": {"x": 1.0 + 5e-4, "n": 5}, "s": "ok", "l": [1.0, 2.0]}) == []
    problems = compare_results(ref, {"a": {"x": 1.01, "n": 6}, "l": [1.0], "new": 1})
    assert problems == [
        "a.n: reference 5, now 6",
        "a.x: reference 1.0, now 1.01",
        "l: reference [1.0, 2.0], now [1.0]",
        "new: new result 1, not in the reference",
        "s: recorded 'ok' before, missing now",
    ]
    assert flatten({"a": {"b": {"c": 1}}, "d": {}}) == {"a.b.c": 1, "d": {}}


def test_skipped_sections_are_not_called_missing(tmp_path):
    notebooks = tmp_path / "notebooks"
    make_notebook(
        notebooks / "01_optional.ipynb",
        "have_extra = True",
        "from recsys.notebook.results import record, skip\nrecord('main', 1)\n"
        "if have_extra:\n    record('extra.value', 2)\nelse:\n    skip('extra', 'extra data not on this machine')",
    )
    quiet = dict(notebooks_dir=notebooks, build_dir=tmp_path / "build", progress=False, html=False, log=lambda _: None)
    runner.run(publish=True, **quiet)
    assert read_results(notebooks / "01_optional.ipynb") == {"main": 1, "extra": {"value": 2}}
    # the same default run on a machine without the extra data: the extra section is skipped
    nb = nbformat.read(str(notebooks / "01_optional.ipynb"), as_version=4)
    nb.cells[1].source = "have_extra = False"
    committed_records = [c.outputs for c in nb.cells if c.cell_type == "code"]
    nbformat.write(nb, str(notebooks / "01_optional.ipynb"))
    assert committed_records  # outputs of the default run are still there
    run = runner.run(**quiet)[0]
    assert run.skipped == {"extra": "extra data not on this machine"}
    assert run.reproduction == []
    payload = json.loads(run.results_file.read_text())
    assert payload["skipped"] == {"extra": "extra data not on this machine"}
    assert compare_results({"extra": {"value": 2}, "main": 1}, {"main": 1}) == [
        "extra.value: recorded 2 before, missing now"
    ]


def test_machine_description():
    import os

    from recsys.notebook import machine

    d = machine.describe()
    assert d["cores"] == os.cpu_count() and d["python"].count(".") == 2
    assert f"({os.cpu_count()} cores;" in d["processor"]  # the CPU model with its SIMD flags
    assert f"{os.cpu_count()} cores" in machine.one_line()


def test_source_commit_names_the_checkout_and_its_local_changes(tmp_path):
    import shutil
    import subprocess

    from recsys.notebook import machine

    assert machine.source_commit(tmp_path) == "unknown (not a git checkout)"
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("one\n")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert machine.source_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("two\n")
    assert machine.source_commit(tmp_path) == f"{head} + local changes"


# ------------------------------------------------------------------------------------------------
# the report: a table of contents whose every link resolves; failures never leave stale outputs


def _links(html_path: Path) -> list[str]:
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            href = dict(attrs).get("href")
            if tag == "a" and href:
                found.append(href)

    Parser().feed(html_path.read_text(encoding="utf-8"))
    return found


def _titled_notebooks(tmp_path: Path) -> Path:
    notebooks = tmp_path / "notebooks"
    for stem, title, question in (
        ("01_first", "01 · The first", "What comes first?"),
        ("02_second", "02 · The second", "And then?"),
        ("03_third", "03 · The third", "And finally?"),
    ):
        make_notebook(notebooks / f"{stem}.ipynb", *GOOD)
        nb = nbformat.read(str(notebooks / f"{stem}.ipynb"), as_version=4)
        nb.cells[0].source = f"# {title}\n\n> **The question:** {question}\n\nText."
        nbformat.write(nb, str(notebooks / f"{stem}.ipynb"))
    return notebooks


def test_index_is_a_table_of_contents_whose_links_all_resolve(tmp_path):
    notebooks = _titled_notebooks(tmp_path)
    build = tmp_path / "build"
    runner.run(
        parameters={"scale": 3},
        only=["01", "02"],
        notebooks_dir=notebooks,
        build_dir=build,
        progress=False,
        log=lambda _: None,
    )
    index = (build / "index.html").read_text()
    for text in ("01 · The first", "What comes first?", "02 · The second", "scale=3", "not run in this build"):
        assert text in index, text
    links = _links(build / "index.html")
    assert "html/01_first.html" in links and "results/01_first.json" in links
    assert any(link.startswith("figures/01_first/figure_") for link in links)
    for link in links:
        assert (build / link).is_file(), f"index links to a missing file: {link}"
    page = build / "html" / "02_second.html"
    text = page.read_text()
    assert "<title>02 · The second</title>" in text
    for link in _links(page):
        if link.startswith(("http", "#", "data:")):
            continue
        assert (page.parent / link).resolve().is_file() or link == "03_third.html", link
    assert 'rel="prev" href="01_first.html"' in text and 'rel="next" href="03_third.html"' in text


def test_a_failed_run_leaves_no_stale_results_and_says_so(tmp_path):
    notebooks = _titled_notebooks(tmp_path)
    build = tmp_path / "build"
    quiet = dict(only=["01"], notebooks_dir=notebooks, build_dir=build, progress=False, log=lambda _: None)
    good = runner.run(**quiet)[0]
    assert good.ok and good.results_file.is_file() and (build / "figures" / "01_first").is_dir()
    bad = runner.run(parameters={"scale": -1}, **quiet)[0]  # fails its parameter check
    assert not bad.ok and "ParameterError" in bad.error
    assert not (build / "results" / "01_first.json").exists()
    assert not (build / "figures" / "01_first").exists()
    status = json.loads((build / "runs" / "01_first.json").read_text())
    assert status["status"] == "failed" and "scale" in status["error"]
    # the index says what went wrong (the exception), and where, not the failing cell's source
    assert status["error"].startswith("ParameterError: ") and "params.integer" not in status["error"]
    assert status["failed_cell"] == "In [3]"  # after the parameters (In [1]) and the injected ones (In [2])
    partial = nbformat.read(str(build / "notebooks" / "01_first.ipynb"), as_version=4)
    assert partial.cells[0].source.startswith("**This run failed**")
    assert "This run failed" in (build / "html" / "01_first.html").read_text()
    index = (build / "index.html").read_text()
    assert "failed" in index and "reproduces" not in index
    assert escape(status["error"]) in index and "raised at In [3]" in index
    assert "params.integer" not in index and "from recsys.notebook import params" not in index
    for link in _links(build / "index.html"):
        assert (build / link).is_file(), link


def test_a_failure_is_described_by_its_exception_and_located_by_its_cell():
    from papermill.exceptions import PapermillExecutionError

    error = PapermillExecutionError(
        cell_index=4,
        exec_count=3,
        source="x = compute()\nraise ValueError(f'bad {x}')",
        ename="ValueError",
        evalue="bad value: 42\nsecond line",
        traceback=["\x1b[0;31mValueError\x1b[0m Traceback", "ValueError: bad value: 42\nsecond line"],
    )
    what, where = runner._describe_failure(error)
    assert what == "ValueError: bad value: 42\nsecond line"
    assert where.splitlines() == ["In [3]", "    x = compute()", "    raise ValueError(f'bad {x}')"]


def test_a_dead_kernel_is_a_failure_not_a_traceback(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    make_notebook(notebooks / "01_dies.ipynb", "x = 1", "import os\nos._exit(3)")
    build = tmp_path / "build"
    original = runner.discover
    runner.discover = lambda folder=None: original(notebooks)
    try:
        code = main(["run", "--build-dir", str(build), "--quiet", "--no-html"])
    finally:
        runner.discover = original
    assert code == runner.EXIT_FAILED
    err = capsys.readouterr().err
    assert "01_dies failed" in err and "Traceback" not in err
    status = json.loads((build / "runs" / "01_dies.json").read_text())
    assert status["status"] == "failed" and "Dead" in status["error"]


@pytest.mark.parametrize("kind", ["file", "readonly"])
def test_an_unusable_build_dir_is_a_clear_error_with_its_own_exit_code(tmp_path, capsys, kind):
    import os

    target = tmp_path / "out"
    if kind == "file":
        target.write_text("not a folder")
    else:
        target.mkdir()
        target.chmod(0o500)
        if os.access(target, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: a read-only folder is still writable")
    try:
        code = main(["run", "--build-dir", str(target), "--only", "01"])
    finally:
        if kind == "readonly":
            target.chmod(0o700)
    assert code == runner.EXIT_BUILD_DIR
    assert str(target) in capsys.readouterr().err


def test_reading_results_twice_gives_the_same_and_leaves_the_notebook_unchanged():
    """A record nested under a table record ("cost.best" under "cost") and kept out of the
    comparison must stay out on every read: the runner reads a notebook's results in full, then
    its comparable ones, from the same node (a regression: the first read wrote the child into
    the parent's payload, and the reproducibility check then reported it as a new result)."""
    nb = nbformat.v4.new_notebook()

    def output(name, value, compare):
        payload = {"name": name, "value": value, "compare": compare}
        return nbformat.v4.new_output("display_data", data={MIME_TYPE: payload})

    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        output("cost", {"exact": {"ndcg": 0.4}}, True),
        output("cost.best", {"method": "scann"}, False),
        output("cost.safe_recall", 0.93, True),
    ]
    nb.cells = [cell]
    everything = read_results(nb)
    assert everything["cost"]["best"] == {"method": "scann"}
    comparable = read_results(nb, comparable_only=True)
    assert comparable == {"cost": {"exact": {"ndcg": 0.4}, "safe_recall": 0.93}}
    assert read_results(nb) == everything
    assert cell.outputs[0]["data"][MIME_TYPE]["value"] == {"exact": {"ndcg": 0.4}}


def test_kernels_get_cpu_independent_blas_and_faiss_kernels_unless_the_user_chose(monkeypatch):
    monkeypatch.setattr(runner, "_cpu_has_avx2", lambda: True)
    for name in runner.PORTABLE_KERNELS:
        monkeypatch.delenv(name, raising=False)
    assert runner.portable_kernel_environment() == runner.PORTABLE_KERNELS
    monkeypatch.setenv("OPENBLAS_CORETYPE", "")  # the user's choice (here: let OpenBLAS decide) wins
    assert "OPENBLAS_CORETYPE" not in runner.portable_kernel_environment()
    monkeypatch.setattr(runner, "_cpu_has_avx2", lambda: False)  # forcing AVX2 kernels would crash
    assert runner.portable_kernel_environment() == {}


def test_quick_timings_still_compare_every_value_and_are_never_published(workspace, monkeypatch):
    notebooks, build = workspace
    make_notebook(
        notebooks / "03_timed.ipynb",
        "repeats = 3\nscale = 2",
        "from recsys.notebook.results import record\n"
        "record('answer', 21 * scale)\n"
        "record('seconds', [0.1] * repeats, compare=False)",
    )
    quiet = dict(notebooks_dir=notebooks, build_dir=build, progress=False, html=False, log=lambda _: None)
    runner.run(only=["03"], publish=True, **quiet)
    monkeypatch.setitem(runner.QUICK_TIMINGS, "03_timed", {"repeats": 1})
    quick = runner.run(only=["03"], quick_timings=True, **quiet)[0]
    assert quick.defaults and quick.quick_timings == {"repeats": 1} and quick.parameters["repeats"] == 1
    assert quick.reproduction == []  # 'seconds' changed, but it is not compared
    status = json.loads((build / "runs" / "03_timed.json").read_text())
    assert status["quick_timings"] == {"repeats": 1} and status["reproduction"] == "reproduces"
    with pytest.raises(runner.RunnerError, match="never published"):
        runner.run(only=["03"], quick_timings=True, publish=True, **quiet)
    # a parameter that is not timing-only shows up as a difference: the check guards the list
    make_notebook(
        notebooks / "04_timed.ipynb",
        "repeats = 3",
        "from recsys.notebook.results import record\nrecord('leaky', repeats)",
    )
    runner.run(only=["04"], publish=True, **quiet)
    monkeypatch.setitem(runner.QUICK_TIMINGS, "04_timed", {"repeats": 1})
    leaky = runner.run(only=["04"], quick_timings=True, **quiet)[0]
    assert leaky.reproduction == ["leaky: reference 3, now 1"]


def test_quick_timings_name_parameters_the_chapters_declare():
    chapters = {nb.stem: nb for nb in runner.discover()}
    for stem, values in runner.QUICK_TIMINGS.items():
        assert stem in chapters, stem
        defaults = runner.notebook_defaults(chapters[stem])
        for name, value in values.items():
            assert name in defaults, f"{stem}: {name}"
            assert value != defaults[name], f"{stem}: {name} is already {value!r}"


def test_a_chapter_writes_under_the_build_folder_it_was_given(tmp_path, monkeypatch):
    """``paths.build_dir()`` inside a chapter is the run's ``--build-dir`` (06 keeps its caches there),
    so a read-only checkout with a writable build folder works and two builds share nothing."""
    from recsys import paths

    monkeypatch.delenv(paths.BUILD_DIR_ENV, raising=False)
    notebooks = tmp_path / "notebooks"
    make_notebook(
        notebooks / "01_where.ipynb",
        "n = 1",
        "from recsys import paths\nfrom recsys.notebook.results import record\n"
        "record('build_dir', str(paths.build_dir()))\n(paths.build_dir() / 'cache-probe').write_text('x')",
    )
    build = tmp_path / "elsewhere"
    run = runner.run(notebooks_dir=notebooks, build_dir=build, html=False, progress=False, log=lambda _: None)[0]
    assert run.ok, run.error
    assert json.loads(run.results_file.read_text())["results"]["build_dir"] == str(build.resolve())
    assert (build / "cache-probe").is_file()
    import os

    assert paths.BUILD_DIR_ENV not in os.environ  # restored after the run


# ------------------------------------------------------------------------------------------------
# a run is "ok" only if it finished: faults injected at each stage after execution, and SIGTERM


def _assert_failed_and_clean(build: Path, stem: str, words: str) -> dict:
    status = json.loads((build / "runs" / f"{stem}.json").read_text())
    assert status["status"] == "failed" and words in status["error"], status["error"]
    assert not (build / "results" / f"{stem}.json").exists()  # no result that looks current
    assert not (build / "figures" / stem).exists()
    assert not list(build.glob(".staging-*")), "a staging folder was left behind"
    return status


@pytest.mark.parametrize(
    "stage, fault",
    [
        ("extract_figures", OSError(28, "No space left on device")),
        ("render_html", OSError(28, "No space left on device")),
        ("_write_json", PermissionError(13, "Permission denied")),
        ("extract_figures", KeyboardInterrupt()),
        ("render_html", runner.Terminated("terminated (SIGTERM)")),
    ],
    ids=["figures-disk-full", "html-disk-full", "results-unwritable", "figures-ctrl-c", "html-sigterm"],
)
def test_a_fault_while_writing_outputs_fails_the_run_and_leaves_nothing_stale(workspace, monkeypatch, stage, fault):
    notebooks, build = workspace
    quiet = dict(notebooks_dir=notebooks, build_dir=build, only=["01"], progress=False, log=lambda _: None)
    assert runner.run(**quiet)[0].ok  # a good earlier run, whose outputs must not survive as current
    assert (build / "results" / "01_first.json").is_file()

    original = getattr(runner, stage)

    def broken(*args, **kwargs):
        if stage == "_write_json" and not str(args[0]).endswith("results.json"):
            return original(*args, **kwargs)  # the status file still gets written: only the results fail
        raise fault

    monkeypatch.setattr(runner, stage, broken)
    if isinstance(fault, runner.INTERRUPTS):
        with pytest.raises(type(fault)):
            runner.run(**quiet)
        words = "interrupted (Ctrl-C)" if isinstance(fault, KeyboardInterrupt) else "terminated (SIGTERM)"
    else:
        run = runner.run(**quiet)[0]
        assert not run.ok and "while writing its outputs" in run.error
        words = type(fault).__name__
    monkeypatch.setattr(runner, stage, original)
    status = _assert_failed_and_clean(build, "01_first", words)
    assert "while writing its outputs" in status["error"]
    assert not (build / "notebooks" / "01_first.ipynb").exists()  # neither this run's nor the last one's


def test_sigterm_during_execution_marks_the_notebook_failed_and_exits(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    notebooks = tmp_path / "notebooks"
    make_notebook(notebooks / "01_slow.ipynb", "n = 1", "import time\ntime.sleep(60)")
    build = tmp_path / "build"
    (build / "results").mkdir(parents=True)
    (build / "results" / "01_slow.json").write_text("{}")  # an earlier run's result
    script = (
        "import sys\nfrom pathlib import Path\nfrom recsys.notebook import runner\n"
        f"runner.run(notebooks_dir=Path({str(notebooks)!r}), build_dir=Path({str(build)!r}), html=False, progress=False)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not list(build.glob(".staging-*/*.ipynb")) and time.monotonic() < deadline:  # the kernel is executing
        time.sleep(0.5)
    time.sleep(2)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0 and b"Terminated" in err
    _assert_failed_and_clean(build, "01_slow", "terminated (SIGTERM)")
    assert os.path.isdir(build)
