"""The command line as a learner or instructor runs it.

In a fresh process (``python -m course_utils``) for what only a process shows: exit statuses, stdout and stderr
apart, the offline guard, the doctor as another user. The other cases call ``cli.main(argv)`` in this process
(the same parser, the same error handling), which spares starting Python and torch for each of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course_utils.cli import main
from course_utils.data.images import sample_path

ENV = {**os.environ, "COURSE_OFFLINE": "1"}


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "course_utils", *args], capture_output=True, text=True, env=env or ENV, timeout=300
    )


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Offline in this process too, as in the processes ``run`` starts (``ENV``)."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")


def here(capsys, *args: str) -> subprocess.CompletedProcess:
    """``python -m course_utils ARGS`` run as ``main(ARGS)`` in this process: its exit status and output."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_predict_cat_and_espresso_offline():
    cat = run("predict", str(sample_path("chelsea")), "--model", "efficientnet_lite0", "--top", "3")
    assert cat.returncode == 0, cat.stderr
    lines = [line.split("\t") for line in cat.stdout.strip().splitlines()]
    assert len(lines) == 3 and lines[0][0] in {"tabby", "tiger cat", "Egyptian cat"}
    probs = [float(p) for _, p in lines]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    coffee = run("predict", str(sample_path("coffee")), "--model", "efficientnet_lite0")
    assert coffee.stdout.splitlines()[0].startswith("espresso\t") and len(coffee.stdout.splitlines()) == 5


@pytest.mark.parametrize(
    "args, needle",
    [
        (["predict", "no/such/file.jpg"], "no such file"),
        (["predict", "pyproject.toml"], "not an image"),
        (["predict", "data"], "holds no image files"),
        (["predict", "data/images/chelsea.jpg", "--model", "resnet5"], "did you mean"),
        (["predict", "data/images/chelsea.jpg", "--top", "0"], "--top"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle, capsys):
    result = here(capsys, *args)
    assert result.returncode == 2, result
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_bad_input_in_a_fresh_process_is_one_line_on_stderr_and_exit_2():
    result = run("predict", "no/such/file.jpg")
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.startswith("error: ") and "no such file" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_predict_a_folder(capsys):
    result = here(capsys, "predict", "data/images", "--top", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[lines.index("# coffee.jpg") + 1].startswith("espresso\t")
    assert sum(line.startswith("# ") for line in lines) == 5


def test_random_weights_are_never_presented_as_real(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    result = here(capsys, "predict", "data/images/chelsea.jpg", "--model", "resnet18")
    assert result.returncode == 2 and "meaningless" in result.stderr and result.stdout == ""
    forced = here(capsys, "predict", "data/images/chelsea.jpg", "--model", "resnet18", "--allow-random", "--top", "2")
    assert forced.returncode == 0 and len(forced.stdout.splitlines()) == 2


def test_doctor_reports_what_an_instructor_needs(tmp_path):
    result = run("doctor", env={**ENV, "TORCH_HOME": str(tmp_path)})
    out = result.stdout
    for needle in (
        "Python",
        "torch",
        "torchvision",
        "device",
        "offline mode",
        "ON",
        "weights resnet50",
        "NOT cached",
        "weights efficientnet_lite0",
        "SHA-256 verified",
        "widgets",
        "jupyterlab_widgets",
        str(tmp_path),
    ):
        assert needle in out, needle
    assert result.returncode == 0


_GUARD = textwrap.dedent("""
    import sys
    events = []
    def hook(event, args):
        if event.startswith("socket.") and event not in ("socket.__new__",) or event == "urllib.Request":
            events.append((event, repr(args)[:120]))
    sys.addaudithook(hook)
    from course_utils.cli import main
    from course_utils import load_classifier, load_image, predict
    for name in ("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"):
        load_classifier(name, quiet=True)
    try:
        load_image("https://example.com/cat.jpg")
    except Exception:
        pass
    code = main(["predict", "data/images/coffee.jpg", "--model", "efficientnet_lite0"])
    assert code == 0
    print("NETWORK EVENTS:", events)
""")


def test_offline_mode_opens_no_socket(tmp_path):
    """Audit hooks see every socket connect, DNS lookup and urllib request: offline there must be none."""
    result = subprocess.run(
        [sys.executable, "-c", _GUARD],
        capture_output=True,
        text=True,
        timeout=300,
        env={**ENV, "TORCH_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NETWORK EVENTS: []" in result.stdout, result.stdout


def test_fetch_plans_everything_into_dest_and_sees_cached_files(tmp_path):
    dest = tmp_path / "usb"
    ckpt = dest / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / "resnet18-f37072fd.pth").write_bytes(b"pre-filled")
    result = run("fetch", "--all", "--dry-run", "--dest", str(dest))  # --dest repoints the process's caches
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("cached") and "resnet18" in line for line in lines)
    for name in ("resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "flower_photos"):
        assert any(line.startswith("would get") and name in line for line in lines), name
    assert "would download 360.5 MB (5 item(s))" in result.stdout
    assert f"TORCH_HOME={dest / 'torch'} COURSE_DATA={dest / 'data'}" in result.stdout
    assert sorted(p.name for p in ckpt.iterdir()) == ["resnet18-f37072fd.pth"]  # nothing touched


def test_fetch_offline_fails_clearly_and_names_are_checked(tmp_path, capsys):
    result = run("fetch", "resnet50", "--dest", str(tmp_path))
    assert result.returncode == 1 and "FAILED" in result.stdout and "offline mode" in result.stdout
    assert "1 item(s) failed" in result.stdout
    bogus = here(capsys, "fetch", "bogus")
    assert bogus.returncode == 2 and "neither a model nor a dataset" in bogus.stderr
    both = here(capsys, "fetch", "--all", "resnet18")
    assert both.returncode == 2


_DOCTOR_AS_USER = textwrap.dedent("""
    import ctypes, os, sys
    import jupyter_client.kernelspec  # noqa: F401  (imported while everything is readable)
    from course_utils.cli import doctor
    if os.geteuid() == 0:
        # Root ignores permissions, so the doctor runs as an unprivileged user. That user keeps one capability,
        # CAP_DAC_READ_SEARCH: it reads the venv and the checkout wherever they are (a fresh clone inside a 0700
        # folder, the Python under /root) but writes only where the folder modes allow, as a learner would.
        libc = ctypes.CDLL(None, use_errno=True)
        os.setgroups([])
        os.setgid(65534)
        libc.prctl(8, 1, 0, 0, 0)  # PR_SET_KEEPCAPS: keep the permitted capabilities across setuid
        os.setuid(65534)
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)(1 << 2, 1 << 2, 0, 0, 0, 0)  # effective, permitted, inheritable: DAC_READ_SEARCH
        if libc.capset(header, data) != 0:  # a container without that capability: only readable paths work
            needed = [os.path.dirname(doctor.__file__), sys.prefix, os.path.dirname(os.__file__)]
            unreadable = [p for p in needed if not os.access(p, os.R_OK | os.X_OK)]
            if unreadable:
                print(f"SKIP: an unprivileged user cannot read {', '.join(unreadable)} (a parent folder is private, "
                      "e.g. chmod 700) and this container does not grant CAP_DAC_READ_SEARCH to lend it read access")
                sys.exit(77)
    sys.exit(doctor.main())
""")


def _doctor_as_user(env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", _DOCTOR_AS_USER], capture_output=True, text=True, env=env, timeout=300
    )
    if result.returncode == 77:
        pytest.skip(result.stdout.strip().removeprefix("SKIP: "))
    return result


def test_doctor_exit_status_says_when_something_needed_is_missing(tmp_path):
    """A read-only, incomplete weights cache is a FIX (exit 1); read-only but complete is fine (exit 0).

    Read-only means read-only to the person running the course: as root, the doctor runs as an unprivileged user
    who can still read the checkout and its venv wherever they are (see ``_DOCTOR_AS_USER``).
    """
    import tempfile

    from course_utils.models import COURSE_MODELS, get_weights

    cache = Path(tempfile.mkdtemp(prefix="course-ro-torch-"))
    ckpt = cache / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    env = {**ENV, "TORCH_HOME": str(cache), "HOME": str(cache), "MPLCONFIGDIR": tempfile.gettempdir()}
    try:
        for folder in (cache, cache / "hub", ckpt):
            folder.chmod(0o555)
        missing = _doctor_as_user(env)
        assert missing.returncode == 1, missing.stdout + missing.stderr[-1500:]
        assert "FIX  weights cache folder" in missing.stdout and "read-only and incomplete" in missing.stdout
        ckpt.chmod(0o755)
        for name in COURSE_MODELS[:-1]:  # a complete cache (file contents do not matter to the report)
            (ckpt / Path(get_weights(name).url).name).write_bytes(b"x")
        ckpt.chmod(0o555)
        complete = _doctor_as_user(env)
        assert complete.returncode == 0, complete.stdout + complete.stderr[-1500:]
        assert "read-only, holds everything needed" in complete.stdout and "FIX" not in complete.stdout
    finally:
        for folder in (cache, cache / "hub", ckpt):
            folder.chmod(0o755)
        shutil.rmtree(cache)
