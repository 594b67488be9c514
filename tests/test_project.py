"""Project files agree with each other: README, Makefile, .ci/run, CI workflow, environment.yml, pyproject."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_commands() -> list[str]:
    block = re.search(r"## Two commands\s+```bash\n(.*?)```", README, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_readme_gives_the_two_commands():
    assert _readme_commands() == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command_offline():
    script = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "export COURSE_OFFLINE=1" in commands
    assert commands[-1] == _readme_commands()[1]


def test_makefile_bootstraps_venv_for_lab_and_test():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test"):
        assert re.search(rf"^{target}: \$\(STAMP\)", makefile, re.M), target
    assert "-m venv $(VENV)" in makefile and 'pip install -e ".[dev]"' in makefile
    assert "--dist loadscope" in makefile


def test_github_workflow_parses_and_runs_the_readme_test_command_in_full():
    """Every CI job runs `make test-full`: the README's `make test` with the second run of every notebook."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert {"test", "gpu"} <= set(jobs)
    full = f"{_readme_commands()[1]}-full"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(
        rf"^{full.split()[1]}: \$\(STAMP\)\n\t\$\(BIN\)/python -m pytest \$\(PYTEST_ARGS\) --second-run=all$",
        makefile,
        re.M,
    )
    for name, job in jobs.items():
        runs = [step.get("run") for step in job["steps"] if "run" in step]
        assert full in runs, f"job {name} does not run {full!r} (the README's test command, every second run included)"
    assert "self-hosted" in jobs["gpu"]["runs-on"]
    cache = [s for s in jobs["test"]["steps"] if s.get("uses", "").startswith("actions/cache")]
    assert cache and "torch" in cache[0]["with"]["path"]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    """Binder / conda get the lean core plus the lab extra, with the CPU-only torch build."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = _pyproject()["project"]
    declared = sorted(project["dependencies"] + project["optional-dependencies"]["lab"])
    assert sorted(r for r in pip if not r.startswith("-")) == declared
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip  # no CUDA wheels in the image
    assert pip[-1] == "-e ."


def test_extras_split_what_each_command_installs():
    """Core = what the notebooks import; lab, deploy, book and the test tools are extras that make installs."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    assert {"lab", "deploy", "book", "dev"} <= set(extras)
    core = {_name(r) for r in project["dependencies"]}
    assert not core & {"jupyterlab", "ipykernel", "pytest", "sphinx", "onnxruntime", "executorch"}, core
    nested = [r for r in extras["dev"] if _name(r) == project["name"]]
    assert nested == ["course-utils[lab,deploy,book]"]  # `make test` tests the notebooks, notebook 09 and the site
    for tool in ("pre-commit", "pre-commit-hooks", "nbstripout", "ruff"):  # the hooks' tools
        assert tool in {_name(r) for r in extras["dev"]}, tool
    assert {"sphinx", "myst-nb", "sphinx-book-theme", "sphinx-copybutton", "ipykernel"} <= {
        _name(r) for r in extras["book"]
    }
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book: \$\(BOOK_STAMP\)", makefile, re.M)
    assert re.search(r"^\$\(BOOK_STAMP\):.*\n\t.*pip install -e \"\.\[book\]\"", makefile, re.M)


def test_colab_bootstrap_installs_the_lean_core():
    """The setup cell installs the course without extras: Colab and Kaggle keep their own Jupyter stack."""
    import json

    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        setup = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        installs = [line.strip() for line in setup.splitlines() if re.match(r"\s*[%!]\s*pip", line)]
        assert installs == ["%pip install -q -e /content/course"], f"{nb.name}: {installs}"


def test_pages_workflow_builds_the_site_online_and_deploys_it():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    fetch = next(i for i, r in enumerate(runs) if "course_utils fetch" in r)
    assert runs.index("make book") > fetch  # real weights first: the pages show real ResNet predictions
    assert not any("COURSE_OFFLINE" in str(step) for step in build["steps"])
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/book"
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_readme_links_the_published_site_and_its_local_build():
    from urllib.parse import urlparse

    owner, repo = urlparse(_pyproject()["project"]["urls"]["Repository"]).path.strip("/").split("/")
    assert f"https://{owner}.github.io/{repo}/" in README
    assert "make book" in README and "_build/book/index.html" in README


def test_hooks_run_offline_and_make_lint_runs_them():
    """Every hook is local and calls a tool installed by the dev extra: nothing is cloned or downloaded."""
    import shutil
    import sys

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    ids = {hook["id"] for hook in hooks}
    assert {"ruff-check", "ruff-format", "nbstripout", "trailing-whitespace", "end-of-file", "check-yaml"} <= ids
    bin_dir = Path(sys.executable).parent
    for hook in hooks:
        assert hook["language"] == "system", hook["id"]
        tool = hook["entry"].split()[0]
        assert (bin_dir / tool).exists() or shutil.which(tool), f"{hook['id']}: {tool} is not installed"
    by_id = {hook["id"]: hook for hook in hooks}
    assert "jupyter" in by_id["ruff-check"]["types_or"] and "jupyter" in by_id["ruff-format"]["types_or"]
    assert "--check" in by_id["ruff-format"]["entry"] and "--verify" in by_id["nbstripout"]["entry"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lint: \$\(STAMP\)\n\t.*pre-commit run --all-files", makefile, re.M)


def test_a_fresh_clone_in_a_private_folder_passes_its_tests(tmp_path):
    """A checkout in a folder only its owner can read (``mktemp -d``: 0700), with its venv inside it.

    The working tree (what a clone of it holds) is copied into a 0700 folder; the running venv is hard-linked
    in as its ``.venv`` (as `make test` would have created it there); a cheap part of the suite runs there,
    the doctor-as-another-user test included.
    """
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: nothing to clone")
    private = Path(tempfile.mkdtemp(prefix="course-clone-"))  # mode 0700, like `mktemp -d`
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        clone = private / "course"
        files = (
            subprocess.run(
                ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True
            )
            .stdout.decode()
            .split("\0")
        )
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, clone / name)
        venv = Path(sys.prefix)
        linked = subprocess.run(["cp", "-al", str(venv), str(clone / ".venv")], capture_output=True, text=True)
        if linked.returncode != 0:
            pytest.skip(f"cannot hard-link the venv {venv} into {clone} ({linked.stderr.strip()[:200]})")
        python = clone / ".venv" / "bin" / Path(sys.executable).name
        tests = [
            "tests/cli/test_cli.py::test_doctor_exit_status_says_when_something_needed_is_missing",
            "tests/test_project.py",
            "-k",
            "not make_lab and not private_folder",
        ]
        result = subprocess.run(
            [str(python), "-m", "pytest", "-p", "no:xdist", "-q", "-p", "no:randomly", *tests],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "COURSE_OFFLINE": "1"},
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert "passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-1500:]
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_requirement_ranges_admit_the_pinned_local_torch():
    deps = {_name(r): r for r in _pyproject()["project"]["dependencies"]}
    assert deps["torch"] == "torch>=2.3" and deps["torchvision"] == "torchvision>=0.18"
    assert "--index-url" not in (ROOT / "Makefile").read_text()


def test_readme_course_map_lists_every_notebook():
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"(notebooks/{nb.name})" in README, f"README course map lacks {nb.name}"


def test_bundled_data_is_attributed_and_small():
    attribution = (ROOT / "data" / "ATTRIBUTION.md").read_text()
    files = [p for p in (ROOT / "data").rglob("*") if p.is_file() and p.name != "ATTRIBUTION.md"]
    assert sum(p.stat().st_size for p in files) < 5 * 2**20
    for image in (ROOT / "data" / "images").iterdir():
        assert f"images/{image.name}" in attribution, image.name


def test_make_lab_serves_the_course(tmp_path):
    """`make lab` (the README's first command) starts JupyterLab on the course: the notebooks are served."""
    import json
    import os
    import secrets
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    root_flag = " --allow-root" if os.geteuid() == 0 else ""
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}{root_flag}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "lab.log", "w"),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}", timeout=2
                ) as r:
                    listing = json.load(r)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        assert {nb.name for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= names
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_every_test_the_markers_name_exists():
    """tests/conftest.py names modules and tests by path: a name left behind by a move would silently mark nothing."""
    from tests import conftest

    modules = conftest.SLOW_MODULES | conftest.NOTEBOOK_MODULES | conftest.BOOK_MODULES | conftest.AFTER_NOTEBOOKS
    for module in modules:
        assert (ROOT / "tests" / module).is_file(), module
    for node in conftest.SLOW_TESTS | conftest.NOTEBOOK_TESTS | set(conftest.SLOW_IDS):
        module, _, name = node.partition("::")
        source = (ROOT / "tests" / module).read_text(encoding="utf-8")
        assert f"def {name.split('[')[0]}(" in source, node
