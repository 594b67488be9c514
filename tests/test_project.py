"""Project files agree with each other: README, Makefile, .ci/run, CI workflow, environment.yml, pyproject."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
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
    assert '-m venv $(VENV)' in makefile and 'pip install -e ".[dev]"' in makefile
    assert "--dist loadscope" in makefile


def test_github_workflow_parses_and_runs_the_same_command():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert {"test", "gpu"} <= set(jobs)
    for name, job in jobs.items():
        runs = [step.get("run") for step in job["steps"] if "run" in step]
        assert _readme_commands()[1] in runs, f"job {name} does not run the README's test command"
    assert "self-hosted" in jobs["gpu"]["runs-on"]
    cache = [s for s in jobs["test"]["steps"] if s.get("uses", "").startswith("actions/cache")]
    assert cache and "torch" in cache[0]["with"]["path"]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = _pyproject()["project"]
    declared = sorted(project["dependencies"] + project["optional-dependencies"]["dev"])
    assert sorted(r for r in pip if not r.startswith("-e")) == declared
    assert "-e ." in pip


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
    proc = subprocess.Popen(["make", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}",
                                            timeout=2) as r:
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
