"""The report's pages work offline: equations are MathML written at build time, and no page loads
a script from the network."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from recsys import paths
from recsys.notebook import pages, runner

EQUATIONS = (
    "# Biases\n\nThe prediction is $\\hat r_{ui} = \\mu + b_u + b_i$, and the damped mean is\n\n"
    "$$b_u = \\frac{\\sum_{i \\in I_u} (r_{ui} - \\mu)}{|I_u| + \\lambda}.$$\n\n"
    "A price of \\$5 and `code with $x$` stay as they are."
)


def _page(tmp_path: Path, *cells) -> Path:
    nb = new_notebook(cells=[new_markdown_cell(EQUATIONS), *cells])
    return runner.render_html(nb, tmp_path / "page.html", title="Biases")


def test_equations_become_mathml_and_no_script_comes_from_the_network(tmp_path):
    html = _page(tmp_path, new_code_cell("x = 1")).read_text(encoding="utf-8")
    assert html.count("<math") == 2
    assert 'display="block"' in html and 'display="inline"' in html
    assert "<mfrac>" in html and "<mover" in html  # \frac and \hat became MathML, not text
    assert "\\hat r" not in html and "$\\hat" not in html and "\\frac" not in html
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", html), "a script is loaded from the network"
    assert "mathjax" not in html.lower() and "require.js" not in html and "require.min.js" not in html
    assert "<code>code with $x$</code>" in html  # maths in code is left alone


def test_an_equation_latex2mathml_cannot_convert_stays_readable_as_source():
    failures = []
    html = pages.markdown_to_html("before $\\begin{aligned} a &= b \\end{aligned}$ after", failures)
    assert failures == ["$\\begin{aligned} a &= b \\end{aligned}$"]
    assert '<code class="recsys-tex">$\\begin{aligned} a &amp;= b \\end{aligned}$</code>' in html


def _markdown_cells():
    for path in runner.discover(paths.notebooks_dir()):
        nb = nbformat.read(str(path), as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                yield f"{path.stem} cell {index}", cell.source


def test_every_equation_of_the_notebooks_converts():
    failed = []
    for where, source in _markdown_cells():
        failures = []
        pages.markdown_to_html(source, failures)
        failed.extend(f"{where}: {tex}" for tex in failures)
    assert not failed, "equations latex2mathml cannot convert:\n" + "\n".join(failed)


# ------------------------------------------------------------------------------------------------
# in a real browser, from file://, with the network off

_PROBE = """<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    var out = {maths: [], fraction: null, plotly: !!document.querySelector("svg.main-svg")};
    document.querySelectorAll("math").forEach(function (m) {
      var r = m.getBoundingClientRect(); out.maths.push([r.width, r.height]);
    });
    var f = document.querySelector("mfrac");
    if (f) {
      var top = f.children[0].getBoundingClientRect(), bottom = f.children[1].getBoundingClientRect();
      out.fraction = {numerator_bottom: top.bottom, denominator_top: bottom.top};
    }
    var pre = document.createElement("pre"); pre.id = "recsys-probe"; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 1500);
});
</script>"""


def _browser() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless browser: install chromium (e.g. apt-get install chromium) to run this check")


def _measure(page: Path, tmp_path: Path) -> dict:
    """Open ``page`` from file:// in headless Chromium with every network request failing, and
    return what the probe script measured once the page had loaded."""
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
    command = [
        _browser(),
        "--headless",
        "--no-sandbox",  # tests may run as root
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--proxy-server=127.0.0.1:9",  # no network: every http(s) request goes to a closed port ...
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # ... and no name resolves
        "--virtual-time-budget=20000",
        "--dump-dom",
        probe.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="recsys-probe">(.*?)</pre>', done.stdout)
    assert found, f"the probe did not run (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found.group(1))


def test_equations_render_in_a_browser_with_the_network_off(tmp_path):
    _browser()
    measured = _measure(_page(tmp_path), tmp_path)
    assert len(measured["maths"]) == 2
    assert all(width > 0 and height > 0 for width, height in measured["maths"]), measured
    # laid out as mathematics: the numerator sits above the denominator, not beside it
    assert measured["fraction"]["numerator_bottom"] <= measured["fraction"]["denominator_top"] + 1, measured


@pytest.mark.slow
def test_notebook_04_interactive_map_draws_with_the_network_off(tmp_path):
    _browser()
    source = next(paths.notebooks_dir().glob("04_*.ipynb"))
    page = runner.render_html(nbformat.read(str(source), as_version=4), tmp_path / "04.html", title="04")
    measured = _measure(page, tmp_path)
    assert measured["plotly"], "plotly did not draw the map offline"
    assert measured["maths"] and all(w > 0 and h > 0 for w, h in measured["maths"])
