"""The address a real node reaches the local control plane at, kept on the loopback device.

The ``kubernetes`` Service's endpoint is the apiserver's advertise address, and the API
server refuses a loopback one there, so a cluster that a real node joins listens on a
non-loopback address that exists only on this machine: it is added to ``lo`` (a ``dummy``
interface is not always available) and removed again when the cluster stops. Whether this
cluster added it is recorded in its work directory, so that ``down`` after a killed launcher
still removes it, and an address that was already there is never removed.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

_RECORD = "loopback-address"


class AddressError(RuntimeError):
    """The address cannot be put on (or taken off) the loopback device."""


def _ip(*args: str) -> str:
    try:
        result = subprocess.run(
            ["ip", *args], capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError as exc:
        raise AddressError("the `ip` command (iproute2) is not installed") from exc
    if result.returncode != 0:
        raise AddressError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def on_loopback(address: str) -> bool:
    """True when ``address`` is assigned to ``lo``."""
    return f" {address}/" in _ip("-4", "-o", "addr", "show", "dev", "lo")


def claim_loopback_address(workdir: Path, address: str) -> None:
    """Put ``address`` on ``lo`` unless it is there; remember in ``workdir`` that we added it."""
    parsed = ipaddress.ip_address(address)
    if parsed.version != 4 or parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified:
        raise AddressError(f"{address} cannot be an apiserver's advertise address")
    if on_loopback(address):
        return
    if os.geteuid() != 0:
        raise AddressError(f"putting {address} on the loopback device needs root")
    _ip("addr", "add", f"{address}/32", "dev", "lo")
    (workdir / _RECORD).write_text(address)


def release_loopback_address(workdir: Path) -> None:
    """Remove the address :func:`claim_loopback_address` added for ``workdir``, if any."""
    record = workdir / _RECORD
    if not record.exists():
        return
    address = record.read_text().strip()
    if on_loopback(address):
        _ip("addr", "del", f"{address}/32", "dev", "lo")
    record.unlink()
