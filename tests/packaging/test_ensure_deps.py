"""hack/ensure-deps.sh: the set-up `make test`, `make dev` and CI share, run as a user would.

It runs for real: with every tool on the PATH it passes silently; with one missing and no root
it names exactly what to install in one line and fails (root would install it with apt-get,
which CI does on a fresh machine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "ensure-deps.sh"
TOOLS = ("make", "git", "python3", "npm", "tmux", "chromium", "go", "sed", "id", "env")
NOBODY = ("--reuid=65534", "--regid=65534", "--clear-groups")


@pytest.fixture
def home() -> Iterator[Path]:
    """A directory any user may read (the tests run the script as nobody, too)."""
    path = Path(tempfile.mkdtemp(prefix="ensure-deps-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _path_with(home: Path, tools: tuple[str, ...]) -> str:
    """A PATH holding only ``tools`` (links to the real ones)."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    # the machine's own tools (not this virtualenv's python3), where any user may run them
    system = os.pathsep.join(
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        + [p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith("/root")]
    )
    for tool in tools:
        found = shutil.which(tool, path=system)
        if found is None:
            pytest.fail(f"{tool} must be installed for this test (make test installs it)")
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(path: str, mode: str, *, as_nobody: bool) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(Path(path).parent)}
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to run the script as another user")
    prefix = (setpriv, *NOBODY) if as_nobody else ()
    return subprocess.run(
        [*prefix, shutil.which("bash") or "/bin/bash", str(SCRIPT), mode],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_with_everything_present_it_passes_silently(home: Path) -> None:
    result = _run(_path_with(home, TOOLS), "test", as_nobody=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_missing_package_is_named_in_one_line_without_root(home: Path) -> None:
    path = _path_with(home, tuple(t for t in TOOLS if t not in ("chromium", "tmux")))
    result = _run(path, "test", as_nobody=True)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "ensure-deps: missing: tmux chromium -- install them (Debian/Ubuntu: sudo apt-get "
        "install tmux chromium) and run again"
    ]
    dev = _run(path, "dev", as_nobody=True)  # `make dev` needs neither
    assert dev.returncode == 0, dev.stderr


def test_go_is_checked_for_the_control_plane_binaries(home: Path) -> None:
    path = _path_with(home, tuple(t for t in TOOLS if t != "go"))
    result = _run(path, "dev", as_nobody=True)
    assert result.returncode == 1
    assert "Go 1.24 or newer is needed" in result.stderr
    assert _run(path, "base", as_nobody=True).returncode == 0  # `make install` alone does not


def test_make_test_make_dev_and_ci_run_the_script() -> None:
    make = shutil.which("make") or "make"

    def planned(target: str) -> str:
        return subprocess.run(
            [make, "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    assert "hack/ensure-deps.sh test" in planned("test")
    assert "hack/ensure-deps.sh dev" in planned("dev")
    assert "bash hack/ensure-deps.sh test" in (ROOT / ".ci" / "run").read_text()
