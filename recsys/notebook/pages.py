"""HTML pages of executed notebooks that work offline: the maths converted to MathML at build time,
and no script loaded from a CDN.

nbconvert's own pages leave ``$...$`` in the text for MathJax and load MathJax and require.js from
a CDN, so opened from ``build/`` without a network every equation shows as raw LaTeX. Here each
inline ``$...$`` and display ``$$...$$`` (and ``\\begin{...}`` environment) of a markdown cell or
markdown output becomes MathML (with :mod:`latex2mathml`), which every current browser draws by
itself; the page loads no MathJax, require.js, widget or mermaid script. Figures are embedded by
nbconvert already, and notebook 04's interactive map embeds its own plotly.js.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from html import escape
from typing import Any

#: The template: JupyterLab's, without the scripts it would fetch from the network.
_TEMPLATE_NAME = "recsys_offline.html.j2"
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block extra_css %}<style>math[display="block"]{margin:.6em 0;overflow-x:auto;overflow-y:hidden}
.recsys-tex{color:#8a1c1c}</style>{% endblock extra_css %}
"""


def latex_to_mathml(tex: str, *, display: bool = False) -> str | None:
    """``tex`` as a ``<math>`` element (``display="block"`` for display maths), or ``None`` when
    latex2mathml cannot convert it into well-formed MathML."""
    from latex2mathml.converter import convert

    try:
        mathml = convert(tex.strip(), display="block" if display else "inline")
        ET.fromstring(mathml)  # an unsupported construct can leave a bare "&" or a broken tree
    except Exception:  # noqa: BLE001 - any failure of the converter means: keep the source
        return None
    return mathml


@functools.cache
def _renderer_class():
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class MathMLRenderer(IPythonRenderer):
        """nbconvert's markdown renderer with the maths written as MathML instead of left for MathJax;
        an equation that does not convert is kept as its LaTeX source in ``<code class="recsys-tex">``
        and listed in ``failures``."""

        def __init__(self, *args: Any, failures: list[str] | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.failures = failures if failures is not None else []

        def _math(self, tex: str, display: bool, source: str) -> str:
            mathml = latex_to_mathml(tex, display=display)
            if mathml is None:
                self.failures.append(source)
                return f'<code class="recsys-tex">{escape(source)}</code>'
            return mathml

        def block_math(self, body: str) -> str:
            return self._math(body, True, f"$${body}$$")

        def inline_math(self, body: str) -> str:
            return self._math(body, False, f"${body}$")

        def latex_environment(self, name: str, body: str) -> str:
            source = f"\\begin{{{name}}}{body}\\end{{{name}}}"
            return self._math(source, True, source)

    return MathMLRenderer


def markdown_to_html(source: str, failures: list[str] | None = None, **options: Any) -> str:
    """Markdown (a cell's source) as HTML with its maths as MathML; equations that could not be
    converted stay as LaTeX in ``<code class="recsys-tex">`` and are appended to ``failures``."""
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    renderer = _renderer_class()(escape=False, failures=failures, **options)
    return MarkdownWithMath(renderer=renderer).render(source)


def exporter(failures: list[str] | None = None):
    """An nbconvert ``HTMLExporter`` (JupyterLab's look) whose pages need no network; equations that
    could not be converted are appended to ``failures``."""
    from jinja2 import DictLoader, pass_context
    from nbconvert import HTMLExporter

    class OfflineHTMLExporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            return markdown_to_html(
                source,
                failures,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options,
            )

    return OfflineHTMLExporter(
        template_name="lab", template_file=_TEMPLATE_NAME, extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})]
    )


def notebook_html(notebook, title: str, failures: list[str] | None = None) -> str:
    """The HTML page of an executed notebook (an ``nbformat`` node), titled ``title``."""
    body, _ = exporter(failures).from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body
