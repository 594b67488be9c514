"""Small bridges to Jupyter: banners that also degrade to plain warnings."""

from __future__ import annotations

import html
import sys
import warnings

__all__ = ["banner", "banner_html", "in_notebook"]

#: Per kind: heading, background, accent colour. A "warning" is a note to read, not an alarm.
_STYLES = {
    "warning": ("Note", "#fdf6e3", "#9a6700"),
    "info": ("Info", "#eef6fb", "#0c5460"),
    "ok": ("Ready", "#edf7ee", "#1e7e34"),
}


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not in a plain script or pytest)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def banner_html(message: str, kind: str = "warning") -> str:
    """The HTML of a banner: a calm note with a coloured edge and a heading ("Note", "Info", "Ready")."""
    title, bg, fg = _STYLES.get(kind, _STYLES["info"])
    return (
        f'<div class="course-banner course-banner-{html.escape(kind)}" style="background:{bg};color:#1f2328;'
        f'border-left:4px solid {fg};padding:8px 12px;border-radius:4px;margin:4px 0;line-height:1.45">'
        f'<b style="color:{fg}">{title}:</b> {html.escape(message)}</div>'
    )


def banner(message: str, kind: str = "warning") -> None:
    """Show a coloured banner in a notebook; elsewhere a warning (kind ``warning``) or a print."""
    if in_notebook():
        from IPython.display import HTML, display

        display(HTML(banner_html(message, kind)))
    elif kind == "warning":
        warnings.warn(message, stacklevel=3)
    else:
        print(message)
