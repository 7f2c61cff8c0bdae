"""Run ``mdwatch`` with no way off loopback: a fake resolver and a socket guard.

Used by the hostile tests as ``python tests/hostile/guarded_mdwatch.py scan URL ...``:

- ``MDWATCH_TEST_HOSTS`` ("name=address,name=address"): what ``socket.getaddrinfo`` answers for
  those names. Any other name (except IP literals and ``localhost``) is a violation: no DNS query
  leaves the machine;
- every ``connect`` / ``connect_ex`` / ``sendto`` to an address that is not loopback is refused
  before the system call (``ENETUNREACH``) and written to ``MDWATCH_TEST_GUARD_LOG``: the test
  reads that file and fails on any line in it.

The crawl's child process is forked from this one, so it inherits both patches.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from typing import Any

_real_getaddrinfo = socket.getaddrinfo
_LOG = os.environ.get("MDWATCH_TEST_GUARD_LOG", "")
_HOSTS = {
    name.strip().lower(): address.strip()
    for name, _, address in (pair.partition("=") for pair in os.environ.get("MDWATCH_TEST_HOSTS", "").split(","))
    if name.strip()
}


def _violation(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {what}\n")


def _is_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def fake_getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                     flags: int = 0) -> list[Any]:
    name = host.decode() if isinstance(host, bytes) else host
    if name is None:
        return _real_getaddrinfo(host, port, family, type, proto, flags)
    key = str(name).strip("[]").rstrip(".").lower()
    if key in _HOSTS:
        return _real_getaddrinfo(_HOSTS[key], port, family, type, proto, flags | socket.AI_NUMERICHOST)
    try:
        ipaddress.ip_address(key.split("%", 1)[0])
    except ValueError:
        if key == "localhost":
            return _real_getaddrinfo("127.0.0.1", port, family, type, proto, flags | socket.AI_NUMERICHOST)
        _violation(f"dns {key}")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test resolver)") from None
    return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)


def _guard(method: Any, name: str) -> Any:
    def guarded(self: socket.socket, address: Any, *args: Any) -> Any:
        target = address if name != "sendto" or not args else args[-1]
        inet = self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(target, tuple)
        if inet and not _is_loopback(str(target[0])):
            _violation(f"{name} {target[0]}:{target[1]}")
            if name == "connect_ex":
                return errno.ENETUNREACH
            raise OSError(errno.ENETUNREACH, f"test guard: {target[0]} is not loopback")
        return method(self, address, *args)

    return guarded


def install() -> None:
    socket.getaddrinfo = fake_getaddrinfo  # type: ignore[assignment]
    for name in ("connect", "connect_ex", "sendto"):
        setattr(socket.socket, name, _guard(getattr(socket.socket, name), name))


if __name__ == "__main__":
    install()
    if sys.argv[1:2] == ["--python"]:  # run a snippet under the guard (the guard's own test)
        exec(sys.argv[2])
        sys.exit(0)
    from mdwatch.scheduler.cli import main

    sys.argv[0] = "mdwatch"
    main()
