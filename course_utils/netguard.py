"""A socket guard for offline runs: refuse and record every connection that leaves the machine.

``install(record)`` adds an audit hook (PEP 578) to the running Python: a ``socket.connect``
(or ``sendto``) or a name lookup (``getaddrinfo``, ``gethostbyname``) for anything but this machine (loopback
addresses, ``localhost``, Unix sockets) raises :class:`NetworkBlockedError` and appends one
line to the file ``record``. Loopback stays allowed: Jupyter kernels and the course's local
test servers use it. With ``COURSE_NET_GUARD=<record file>`` in the environment,
``install_from_env()`` turns it on; the test suite sets it under ``COURSE_OFFLINE=1`` so that
every test process and notebook kernel is guarded.

Standard library only, so that it can be loaded before anything else (``sitecustomize``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time

ENV = "COURSE_NET_GUARD"
_MARK = "_course_netguard"  # set on ``sys``: one guard per process, however this file was loaded


class NetworkBlockedError(ConnectionRefusedError):
    """A connection or name lookup to another machine under the offline guard."""


def is_local(host: object, own: frozenset[str] = frozenset()) -> bool:
    """True for loopback and unspecified addresses, ``localhost``, this machine's names (``own``) and Unix sockets."""
    if host is None or isinstance(host, bytes | bytearray):
        return True  # None: a local wildcard; bytes: an abstract Unix socket
    if isinstance(host, int):
        return False
    name = str(host).strip("[]").split("%")[0].lower()
    if name in ("", "localhost", "localhost.localdomain", "ip6-localhost") or name.endswith(".localhost") or name in own:
        return True
    try:
        address = ipaddress.ip_address(name)
        return address.is_loopback or address.is_unspecified
    except ValueError:
        return False  # a host name other than localhost: resolving it is network traffic


def _record(path: str, what: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} pid={os.getpid()} {what} argv={' '.join(sys.argv[:3])[:200]}\n"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    except OSError:
        pass


def install(record: str | os.PathLike) -> bool:
    """Guard this process; ``record`` is the file blocked attempts are appended to. False if already guarded."""
    path = os.fspath(record)
    if getattr(sys, _MARK, None):
        return False
    setattr(sys, _MARK, path)
    own = frozenset({socket.gethostname().lower()})  # looking up this machine's own name stays on the machine


    def hook(event: str, args: tuple) -> None:
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            address = args[1]
            if isinstance(address, tuple) and address and not is_local(address[0], own):
                what = f"{event.split('.')[1]} {address[0]}:{address[1] if len(address) > 1 else ''}"
            else:
                return
        elif event == "socket.getaddrinfo":
            if is_local(args[0], own):
                return
            what = f"getaddrinfo {args[0]}:{args[1]}"
        elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
            if is_local(args[0], own):
                return
            what = f"{event.split('.')[1]} {args[0]}"
        else:
            return
        _record(path, what)
        raise NetworkBlockedError(f"offline mode (COURSE_OFFLINE=1): {what} was blocked and recorded in {path}; "
                                  "the course must not use the network here")

    sys.addaudithook(hook)
    return True


def install_from_env() -> bool:
    """:func:`install` with the record file named by ``$COURSE_NET_GUARD``; False when it is unset."""
    path = os.environ.get(ENV)
    return install(path) if path else False


def guarded() -> str | None:
    """The record file of this process's guard, or None when it is not guarded."""
    return getattr(sys, _MARK, None)


def records(path: str | os.PathLike) -> list[str]:
    """The blocked attempts recorded in ``path`` (empty when none or no file)."""
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


__all__ = ["ENV", "NetworkBlockedError", "guarded", "install", "install_from_env", "is_local", "records"]
