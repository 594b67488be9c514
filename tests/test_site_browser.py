"""The course website (`make book`) for notebooks 00 and 01: its HTML, then in a real browser.

The site is built once for the module (from this run's nbval copies of the notebooks when the run executes them,
else executing them: about 80 s on 2 cores), served on
127.0.0.1 and opened in Debian's chromium through Playwright, as ``tests/test_browser.py`` does. The
browser checks that every sidebar link resolves, that searching "Bottleneck" finds the residual-blocks
page, that the dark-mode toggle changes the theme and that notebook 00's widget renders from its saved
state, with every request answered by the site itself (no CDN). Screenshots (light and dark) are kept in
``_build/screenshots/``. Without chromium or Playwright the browser tests are skipped with the reason
outside CI and fail in CI (``.ci/run`` installs both); the HTML checks always run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import ROOT
from tests.output_checks import this_runs_copy

NOTEBOOKS = ("00_start_here.ipynb", "01_residual_blocks.ipynb")
ENV = {**os.environ, "COURSE_OFFLINE": "1"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, request) -> Path:
    """The site of notebooks 00 and 01. When this run has executed them under nbval (``make test``: they start
    long before this module), it is built from those executed copies (``_build/executed/``) without running them
    again; otherwise (this module alone, or a notebook not started yet) the build executes them itself."""
    out = tmp_path_factory.mktemp("site") / "book"
    stored = {name: (ROOT / "notebooks" / name).read_bytes() for name in NOTEBOOKS}
    copies = [this_runs_copy(name, request.config) for name in NOTEBOOKS]
    if all(copies):
        for name, copy in zip(NOTEBOOKS, copies):
            if json.loads(copy.read_text(encoding="utf-8"))["metadata"]["course"].get("failed"):
                pytest.fail(f"{name} failed in this run (see its cells): no site to test")
        args = ["--executed", *map(str, copies)]
    else:
        args = [f"notebooks/{name}" for name in NOTEBOOKS]
    result = subprocess.run(
        [sys.executable, "scripts/build_book.py", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert {name: (ROOT / "notebooks" / name).read_bytes() for name in NOTEBOOKS} == stored  # never written back
    return out


def _text(html: str) -> str:
    """The page's text, tags removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _page(site: Path, name: str) -> str:
    return (site / "notebooks" / name.replace(".ipynb", ".html")).read_text(encoding="utf-8")


def test_pages_carry_the_executed_outputs_and_report_their_time(site):
    text = _text(_page(site, NOTEBOOKS[0]))
    assert re.search(r"espresso\s+9\d\.\d%", text), "the executed output (espresso at 9x %) is missing"
    assert re.search(r"WRONG\W+Exercise 00\.1|Exercise 00\.1\W+WRONG", text)  # the wrong-answer demo's verdict
    assert "Bottleneck" in _text(_page(site, NOTEBOOKS[1]))
    rows = json.loads((site / "book.json").read_text())
    assert [r["notebook"] for r in rows] == [f"notebooks/{n}" for n in NOTEBOOKS]
    assert all(r["succeeded"] and r["seconds"] > 0 for r in rows), rows
    report = _text((site / "build-report.html").read_text())
    for r in rows:  # the site's own page lists every executed notebook with its run time
        listed = rf"{re.escape(r['notebook'][:-6])} ([\d-]+ [\d:]+ force|the test run \(nbval\)) \d+\.\d+"
        assert re.search(listed, report), report[:800]
    assert "Traceback" not in text and "output stderr" not in _page(site, NOTEBOOKS[0])


def test_every_asset_comes_from_the_site_itself(site):
    """No script, stylesheet or font is loaded from another host when a page is viewed."""
    for html_file in site.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        external = re.findall(r"<script[^>]+src=\"(https?:[^\"]+)\"|<link[^>]+href=\"(https?:[^\"]+)\"", text)
        assert not external, f"{html_file.relative_to(site)} loads {external}"
    for css in (site / "_static").rglob("*.css"):
        assert not re.search(r"@import\s+(url\()?[\"']?https?:", css.read_text(encoding="utf-8", errors="replace")), css
    page = _page(site, NOTEBOOKS[0])
    assert "application/vnd.jupyter.widget-state+json" in page and "unpkg.com" not in page
    assert 'src="../_static/vendor/html-manager/embed.js' in page
    assert (site / "_static" / "vendor" / "html-manager" / "embed.js").stat().st_size > 1_000_000
    assert (site / "_static" / "vendor" / "mathjax" / "tex-chtml.js").is_file()


def test_launch_and_download_links_point_at_the_repository_notebook(site):
    import tomllib

    repo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    owner_repo = urlparse(repo).path.strip("/")
    page = _page(site, NOTEBOOKS[1])
    assert f'href="https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{NOTEBOOKS[1]}"' in page
    assert f'href="https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/notebooks/{NOTEBOOKS[1]}"' in page
    assert f"_sources/notebooks/{NOTEBOOKS[1]}" in page  # the download button
    downloaded = json.loads((site / "_sources" / "notebooks" / NOTEBOOKS[1]).read_text())
    assert not any(c.get("outputs") for c in downloaded["cells"])  # the stored notebook, as in the repository


def test_every_image_has_alt_text_and_none_comes_from_another_host(site):
    for name in NOTEBOOKS:
        page = _page(site, name)
        for tag in re.findall(r"<img[^>]*>", page):
            alt = re.search(r'alt="([^"]+)"', tag)
            assert alt, f"{name}: {tag[:200]}"
            assert not re.search(r'src="https?:', tag), f"{name}: {tag[:200]}"  # badges become text links
        outputs = [chunk.split('<div class="cell docutils')[0] for chunk in page.split('<div class="cell_output')[1:]]
        figures = [re.search(r'alt="([^"]+)"', t).group(1) for o in outputs for t in re.findall(r"<img[^>]*>", o)]
        assert figures or name == NOTEBOOKS[0], name  # 00 draws no figure; 01 draws several
        assert all(a.startswith("Figure") and len(a) > 20 for a in figures), figures
    assert "Open In Colab</a>" in _page(site, NOTEBOOKS[0]) or "Open In Colab</span></a>" in _page(site, NOTEBOOKS[0])


# -- in a real browser ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(site, file_server) -> str:
    return file_server(site)


@pytest.fixture
def page(browser, served):
    """A page that may only talk to the site: any other request is refused and recorded."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.foreign = []
    host = urlparse(served).netloc

    def guard(route):
        url = route.request.url
        if urlparse(url).netloc == host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            page.foreign.append(url)
            route.abort()

    page.route("**/*", guard)
    yield page
    page.close()
    assert not page.foreign, f"the site asked another host for {page.foreign}"


def test_sidebar_links_resolve_in_course_order(page, served):
    page.goto(f"{served}/index.html")
    links = page.locator("nav.bd-docs-nav a.reference.internal")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    chapters = [h for h in hrefs if h.startswith("notebooks/")]
    assert chapters == [f"notebooks/{n.replace('.ipynb', '.html')}" for n in NOTEBOOKS], hrefs
    assert any("instructor-guide" in h for h in hrefs) and any("CONTRIBUTING" in h for h in hrefs)
    for href in hrefs:
        response = page.request.get(f"{served}/{href.split('#')[0]}")
        assert response.status == 200, href
    page.click(f"nav.bd-docs-nav a[href='{chapters[1]}']")
    page.wait_for_url("**/01_residual_blocks.html")
    assert page.locator("a.left-prev").get_attribute("href").endswith("00_start_here.html")  # previous / next


def test_search_for_bottleneck_finds_the_residual_blocks_page(page, served):
    page.goto(f"{served}/search.html?q=Bottleneck")
    page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
    results = page.locator("#search-results ul.search li a")
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("01_residual_blocks" in h for h in hrefs), hrefs


def test_dark_mode_toggle_and_widget_render(page, served, screenshots):
    page.goto(f"{served}/notebooks/00_start_here.html")
    slider = page.locator(".cell_output .widget-slider").first
    slider.wait_for(timeout=30_000)  # rendered by the site's own widget manager from the saved state
    label = page.locator(".cell_output .widget-label", has_text="pixels").first
    assert "256² = 65,536 pixels" in label.inner_text()
    slider.scroll_into_view_if_needed()
    page.evaluate("document.documentElement.dataset.mode = 'light'; localStorage.setItem('mode', 'light')")
    page.reload()
    page.locator(".cell_output .widget-slider").first.wait_for(timeout=30_000)
    page.locator(".cell_output .widget-slider").first.scroll_into_view_if_needed()
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.screenshot(path=str(screenshots / "site_00_light.png"))
    page.locator(".theme-switch-button:visible").first.click()
    page.locator(".theme-change-button[data-mode='dark']:visible").first.click()
    page.wait_for_function("document.documentElement.dataset.theme === 'dark'", timeout=10_000)
    page.wait_for_timeout(300)  # the colour transition
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light, (light, dark)
    page.screenshot(path=str(screenshots / "site_00_dark.png"))
    page.goto(f"{served}/index.html")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"  # the choice is remembered
    page.screenshot(path=str(screenshots / "site_index_dark.png"))
    for name in ("site_00_light.png", "site_00_dark.png"):
        assert (screenshots / name).stat().st_size > 10_000


_OVERFLOWING = """() => [...document.querySelectorAll('div.cell div.highlight pre, div.cell_output pre, div.cell_output .output')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.innerText.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 100))"""


@pytest.mark.parametrize("width", [1280, 1440])
def test_no_code_or_output_is_cut_off_at_the_right(page, served, width):
    """Every code line (up to ruff's 120 characters) and every printed line fits the column or wraps."""
    page.set_viewport_size({"width": width, "height": 900})
    for name in NOTEBOOKS:
        page.goto(f"{served}/notebooks/{name.replace('.ipynb', '.html')}")
        widths = page.evaluate(
            "() => [...document.querySelectorAll('div.cell div.highlight pre')].map(e => e.innerText.split('\\n'))"
            ".flat().reduce((m, l) => Math.max(m, l.length), 0)"
        )
        assert widths >= 100, f"{name}: expected long code lines to test against, the longest has {widths} characters"
        assert page.evaluate(_OVERFLOWING) == [], f"{name} at {width} px: these lines are cut off"
