"""Small bridges to Jupyter: banners that also degrade to plain warnings."""

from __future__ import annotations

import html
import sys
import warnings

_COLOURS = {"warning": ("#fff3cd", "#856404"), "info": ("#d1ecf1", "#0c5460"), "ok": ("#d4edda", "#155724")}


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not in a plain script or pytest)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def banner(message: str, kind: str = "warning") -> None:
    """Show a coloured banner in a notebook; elsewhere a warning (kind ``warning``) or a print."""
    if in_notebook():
        from IPython.display import HTML, display

        bg, fg = _COLOURS.get(kind, _COLOURS["info"])
        display(
            HTML(
                f'<div style="background:{bg};color:{fg};padding:8px 12px;'
                f'border-radius:4px;margin:4px 0"><b>{html.escape(kind.upper())}:</b> '
                f"{html.escape(message)}</div>"
            )
        )
    elif kind == "warning":
        warnings.warn(message, stacklevel=3)
    else:
        print(message)
