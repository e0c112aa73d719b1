"""Progress bars that show for a person and stay out of executed notebooks.

Long loops in the package report progress through :func:`bar` (tqdm). A bar shows when the
caller asks for one (``enabled=True``, the default of every ``progress=`` argument) *and* the
environment variable ``RECSYS_PROGRESS`` is not ``"0"``. The notebook runner sets it to ``"0"``
for the kernels it starts, so committed notebooks carry no progress-bar debris, while the same
code run interactively (JupyterLab, a terminal) shows its bars.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

try:  # tqdm.auto picks the notebook widget, which needs ipywidgets; without them it warns
    import ipywidgets  # noqa: F401
    from tqdm.auto import tqdm
except ImportError:
    from tqdm import tqdm

#: Set to "0" to silence every progress bar of the package (the notebook runner does).
PROGRESS_ENV = "RECSYS_PROGRESS"


def is_enabled(requested: bool = True) -> bool:
    """True when a bar should show: requested, and not switched off by ``$RECSYS_PROGRESS``."""
    return bool(requested) and os.environ.get(PROGRESS_ENV, "1") != "0"


def bar(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled unless :func:`is_enabled` says otherwise."""
    return tqdm(iterable, disable=not is_enabled(enabled), **kwargs)
