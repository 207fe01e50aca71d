"""Child processes of the local control plane.

Invariant: every component runs in its own session (a terminal's Ctrl-C reaches only the
launcher, which then stops the components in order) and, by default, is killed by the kernel
if the thread that started it dies, so even a ``kill -9`` of the launcher leaves no stray
etcd or apiserver behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent thread dies (a ``preexec_fn``).

    Runs in the child between fork and exec.
    """
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Component:
    """One control-plane program: its command line, its log file and its process."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, *, die_with_parent: bool = True
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Process id while started."""
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        """Start the program, appending its output to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=kill_with_parent if self.die_with_parent else None,
                env={**os.environ, "GOTRACEBACK": "all"},
            )

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the component's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; always reaps the process."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
        proc.wait()

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process, if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
