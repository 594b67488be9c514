"""The offline socket guard: under COURSE_OFFLINE=1 no test, subprocess or notebook kernel reaches another machine.

``tests.netguard`` refuses and records every non-loopback connect or name lookup;
tests/reliability_summary.py turns it on for the whole session (and for child Pythons via a
generated ``sitecustomize``) and fails the session if anything was recorded. These tests prove
that the guard really blocks, really lets loopback through, and really reaches child processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course_utils.core.settings import offline
from tests import ROOT, netguard
from tests.reliability_summary import NET_ENV, network_record, tally

OFFLINE = offline()

_PROBE = textwrap.dedent("""
    import importlib.util, json, socket, sys, time, urllib.error, urllib.request
    spec = importlib.util.spec_from_file_location("ng", sys.argv[1])
    ng = importlib.util.module_from_spec(spec); spec.loader.exec_module(ng)
    ng.install(sys.argv[2])
    results = {}

    def attempt(name, fn):
        start = time.perf_counter()
        try:
            fn()
            results[name] = "allowed"
        except ng.NetworkBlockedError:
            results[name] = "blocked"
        except urllib.error.URLError as exc:
            results[name] = "blocked" if isinstance(exc.reason, ng.NetworkBlockedError) else f"other: {exc}"
        except OSError as exc:
            results[name] = f"other: {exc!r}"
        results[name + "_s"] = time.perf_counter() - start

    attempt("tcp", lambda: socket.create_connection(("192.0.2.1", 9), timeout=5))
    attempt("tcp6", lambda: socket.socket(socket.AF_INET6).connect(("2001:db8::1", 9, 0, 0)))
    attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
    attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53)))
    attempt("http", lambda: urllib.request.urlopen("http://example.com/", timeout=5))
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
    attempt("loopback", lambda: socket.create_connection(server.getsockname(), timeout=5).close())
    attempt("localhost", lambda: socket.getaddrinfo("localhost", 80))
    attempt("unix", lambda: socket.socketpair())
    print(json.dumps(results))
""")


def test_guard_blocks_other_machines_and_allows_loopback(tmp_path):
    record = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items() if k != NET_ENV}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, netguard.__file__, str(record)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout)
    for name in ("tcp", "tcp6", "dns", "udp", "http"):
        assert results[name] == "blocked", (name, results[name])
        assert results[name + "_s"] < 1, (
            f"{name}: blocking took {results[name + '_s']:.2f} s (it must not wait on the network)"
        )
    for name in ("loopback", "localhost", "unix"):
        assert results[name] == "allowed", (name, results[name])
    lines = netguard.records(record)
    assert len(lines) == 5 and all("pid=" in line for line in lines), lines
    assert any("192.0.2.1:9" in line for line in lines) and any("example.com" in line for line in lines)
    tally(inputs=8, faults=5)


@pytest.mark.parametrize(
    "host,local",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.8.9.10", True),
        (None, True),
        ("10.0.0.1", False),
        ("8.8.8.8", False),
        ("example.com", False),
        ("[::1]", True),
        ("2001:db8::1", False),
    ],
)
def test_what_counts_as_local(host, local):
    assert netguard.is_local(host) is local


@pytest.mark.skipif(not OFFLINE, reason="the session guard is on only under COURSE_OFFLINE=1")
def test_this_session_and_its_children_are_guarded(tmp_path):
    record = network_record()
    assert record is not None and netguard.guarded() == str(record), "this test process runs without the guard"
    # A plain child Python (like a notebook kernel) is guarded from its first line, through sitecustomize.
    env = dict(os.environ, **{NET_ENV: str(tmp_path / "child.log")})
    code = (
        "import socket, sys\nassert getattr(sys, '_course_netguard', None), 'child not guarded'\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=5)\nexcept ConnectionRefusedError as e:\n"
        "    print(type(e).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "NetworkBlockedError", out.stderr[-1500:]
    assert len(netguard.records(tmp_path / "child.log")) == 1
    tally(inputs=1, faults=1)


_OFFLINE_ENTRY_POINTS = textwrap.dedent("""
    from course_utils import load_classifier, load_image
    from course_utils.data.datasets import course_dataset
    from course_utils.data.download import download_file
    from course_utils.core.errors import CourseError
    clf = load_classifier("resnet18", device="cpu")
    assert clf.pretrained is False
    for call in (lambda: load_image("https://example.com/cat.jpg"),
                 lambda: download_file("https://example.com/data.tgz", "/tmp/never-written.tgz", None)):
        try:
            call()
        except CourseError as exc:
            assert "offline" in str(exc), exc
        else:
            raise SystemExit("an offline download did not fail")
    assert course_dataset(quiet=True).name == "textures5"
    print("ok")
""")


def test_offline_mode_never_tries_the_network(tmp_path):
    """The course's own entry points, under COURSE_OFFLINE=1 and a guard of their own: nothing recorded."""
    record = tmp_path / "entry.log"
    env = dict(
        os.environ,
        COURSE_OFFLINE="1",
        OMP_NUM_THREADS="1",
        TORCH_HOME=str(tmp_path / "torch"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    )
    env[NET_ENV] = str(record)
    (tmp_path / "sitecustomize.py").write_text(
        f"import importlib.util as u\ns = u.spec_from_file_location('ng', {netguard.__file__!r})\n"
        "m = u.module_from_spec(s); s.loader.exec_module(m); m.install_from_env()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", _OFFLINE_ENTRY_POINTS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
    assert netguard.records(record) == [], netguard.records(record)
    assert not Path("/tmp/never-written.tgz").exists()
    tally(inputs=4, faults=2)


def test_loopback_servers_still_work_in_this_process():
    """The guard must not break the local test servers other tests rely on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        socket.create_connection(server.getsockname(), timeout=5).close()
