"""Sphinx configuration of the course website (``make book``).

``scripts/build_book.py`` stages the sources (this folder's pages, README, CONTRIBUTING, docs/ and the
notebooks, in the repository's layout) and runs Sphinx with this folder as its configuration directory.
MyST-NB executes every notebook during the build; nothing is written back into ``notebooks/``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from docutils import nodes

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]["Repository"]

project = "ResNet & MobileNet, hands-on"
author = "the course's contributors"
copyright = "the course's contributors (code: MIT)"
html_title = project

extensions = ["myst_nb", "sphinx_copybutton"]
root_doc = "index"
exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints", "network.log"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# -- Notebook execution: every build runs every notebook, and a failing cell fails the build ----------------
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = False  # the kernel runs in the staged notebooks/ folder, as under nbval
nb_merge_streams = True
# stderr (library log lines, warnings) is kept off the pages and reported in the build log instead.
nb_output_stderr = "remove-warn"
# Widgets render from the saved widget state with the site's own copy of the widget manager (no CDN).
nb_ipywidgets_js = {"vendor/html-manager/embed.js": {}}
# A widget whose output also carries a static figure (03's feature-map viewer) shows the figure: its
# Python callbacks cannot run in a static page. Widgets without one (00's slider) render as widgets.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", 55)]
mathjax_path = "vendor/mathjax/tex-chtml.js"  # relative to _static: MathJax served by the site

# -- Theme -------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",  # the staged sources mirror the repository: notebooks/NN_x.ipynb
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "launch_buttons": {
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
}
html_last_updated_fmt = ""
# Copy buttons on code, not on the outputs printed below it.
copybutton_selector = ":not(.output) > div.highlight pre"
copybutton_exclude = ".linenos, .gp, .go"

_TITLE = re.compile(r"""(?:title|suptitle|set_title|xlabel|set_xlabel)\s*[=(]\s*f?(["'])(.+?)\1""")


def _section(node: nodes.Node) -> str:
    while node is not None:
        if isinstance(node, nodes.section) and node.children and isinstance(node[0], nodes.title):
            return node[0].astext()
        node = node.parent
    return ""


def add_alt_text(app, doctree: nodes.document) -> None:
    """Give every figure a notebook cell produced an alt text: the titles its code sets, else its section."""
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        cell = image.parent
        while cell is not None and "cell" not in cell.get("classes", []):
            cell = cell.parent
        if cell is None:
            continue
        code = " ".join(
            block.astext()
            for block in cell.findall(nodes.literal_block)
            if "cell_output" not in block.parent.parent.get("classes", [])
        )
        titles = [re.sub(r"\{[^}]*\}", "…", m.group(2)) for m in _TITLE.finditer(code)]
        titles = [t for t in titles if sum(ch.isalpha() for ch in t) >= 12]  # not a bare f-string placeholder
        section = _section(cell)
        image["alt"] = (
            f"Figure: {'; '.join(dict.fromkeys(titles))}"
            if titles
            else f"Figure drawn by the code above (section “{section}”)"
            if section
            else "Figure drawn by the code above"
        )


def _test_run(source: Path) -> dict | None:
    """The run time and outcome a notebook executed by the test run records (``metadata.course``), or None."""
    if source.suffix != ".ipynb":
        return None
    course = json.loads(source.read_text(encoding="utf-8")).get("metadata", {}).get("course")
    return {"runtime": course["seconds"], "succeeded": not course.get("failed", False)} if course else None


def write_build_report(app, exception: Exception | None) -> None:
    """Write ``book.json``: every executed notebook with its title and execution time in seconds.

    A notebook this build did not execute but the test run did (``build_book.py --executed``) reports the run its
    ``metadata.course`` records.
    """
    if exception is not None or app.builder.name != "html":
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    rows = []
    for docname in sorted(app.env.found_docs):
        data = NbMetadataCollector.get_exec_data(app.env, docname) or _test_run(Path(app.env.doc2path(docname)))
        if data is None:
            continue
        title = app.env.titles[docname].astext() if docname in app.env.titles else docname
        rows.append(
            {
                "notebook": f"{docname}.ipynb",
                "page": f"{docname}.html",
                "title": title,
                "seconds": round(float(data["runtime"] or 0.0), 1),
                "succeeded": bool(data["succeeded"]),
            }
        )
    Path(app.outdir, "book.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def setup(app) -> dict:
    app.connect("doctree-read", add_alt_text)
    app.connect("build-finished", write_build_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
