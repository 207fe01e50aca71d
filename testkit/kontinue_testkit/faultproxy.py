"""A TCP proxy on loopback that breaks connections on demand (the network faults of the tests).

It forwards bytes between its clients (workers, a controller: their kubeconfig points at the
proxy, see :func:`proxied_kubeconfig`) and the API server without looking into them (TLS goes
through untouched). On demand it:

- :meth:`FaultProxy.drop`: resets every open connection at once (RST, as a broken link does);
- :meth:`FaultProxy.refuse`: for a while also resets every new connection as soon as it comes
  (the API server out of reach), then lets them through again;
- :meth:`FaultProxy.mute`: for a while forwards requests but throws the answers away, then
  resets those connections: writes that land without their client hearing of it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from pathlib import Path

import yaml


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` until :meth:`close`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(256)
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._refuse_until = 0.0
        self._mute_until = 0.0
        self._closed = threading.Event()
        self.connections = 0
        """Connections accepted so far."""
        self.resets = 0
        """Connections reset by a fault so far."""
        threading.Thread(target=self._accept, name="faultproxy", daemon=True).start()

    @property
    def address(self) -> str:
        """``https://127.0.0.1:<port>``: what a kubeconfig points at."""
        return f"https://127.0.0.1:{self.port}"

    def drop(self) -> int:
        """Reset every open connection now; returns how many were reset."""
        with self._lock:
            victims = list(self._open)
            self._open.clear()
        for sock in victims:
            _reset(sock)
        with self._lock:
            self.resets += len(victims)
        return len(victims)

    def refuse(self, seconds: float) -> None:
        """Reset every open connection and, for ``seconds``, every new one at once."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
        self.drop()

    def mute(self, seconds: float) -> None:
        """For ``seconds``, drop every answer (requests still go through); then reset."""
        with self._lock:
            self._mute_until = time.monotonic() + seconds
        time.sleep(seconds)
        self.drop()

    def close(self) -> None:
        """Stop accepting and reset everything."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()
        self.drop()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                refusing = time.monotonic() < self._refuse_until
            if refusing:
                _reset(client)
                with self._lock:
                    self.resets += 1
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        try:
            peers = {client: upstream, upstream: client}
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                if self._closed.is_set():
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream and time.monotonic() < self._mute_until:
                        continue  # the answer is lost on its way back
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with an RST (linger 0), as a broken link or a killed peer does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def proxied_kubeconfig(kubeconfig: Path, proxy: FaultProxy, target: Path) -> Path:
    """A copy of ``kubeconfig`` whose clusters go through ``proxy``; written to ``target``."""
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config.get("clusters") or []:
        cluster["cluster"]["server"] = proxy.address
    target.write_text(yaml.safe_dump(config))
    target.chmod(0o600)
    return target
