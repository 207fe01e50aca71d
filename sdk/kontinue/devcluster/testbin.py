"""Locating the pinned control-plane binaries built by ``hack/testbin/build.sh``.

Order: ``$KONTINUE_TESTBIN_BIN`` (a directory holding the binaries), then the build script of
the repository that contains the current directory or this package (run with ``build=True`` it
builds what is missing, printing its progress; otherwise it only looks up a finished build).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REQUIRED = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class TestbinError(RuntimeError):
    """The binaries are missing and cannot be built here."""


NODE_REQUIRED = ("kubelet", "kube-proxy", "pause", "pause.image")
"""What ``hack/testbin/build-node.sh`` builds for the real node."""

TOOLS_REQUIRED = ("skaffold", "prometheus")
"""What ``hack/testbin/build-tools.sh`` builds."""


def _build_script(name: str = "build.sh") -> Path | None:
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for directory in (start, *start.parents):
            candidate = directory / "hack" / "testbin" / name
            if candidate.is_file():
                return candidate
    return None


def _check(bin_dir: Path, required: tuple[str, ...] = REQUIRED) -> Path:
    missing = [name for name in required if not (bin_dir / name).is_file()]
    if missing:
        raise TestbinError(f"{bin_dir} lacks {', '.join(missing)}")
    return bin_dir


def find_testbin(*, build: bool = False) -> Path:
    """Return the directory with etcd, kube-apiserver & co., building them if asked to."""
    override = os.environ.get("KONTINUE_TESTBIN_BIN")
    if override:
        return _check(Path(override))
    script = _build_script()
    if script is None:
        raise TestbinError(
            "cannot find hack/testbin/build.sh: run from a kontinue checkout or set "
            "KONTINUE_TESTBIN_BIN to a directory with the control-plane binaries"
        )
    args = ["bash", str(script)] + ([] if build else ["--print-bin"])
    result = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        hint = "" if build else f" (build them with: bash {script})"
        raise TestbinError(f"the control-plane binaries are not available{hint}")
    return _check(Path(result.stdout.strip().splitlines()[-1]))


def find_extra_bin(script_name: str, required: tuple[str, ...], *, build: bool = False) -> Path:
    """The bin directory of ``hack/testbin/<script_name>`` (build-node.sh, build-tools.sh).

    ``$KONTINUE_NODE_BIN`` / ``$KONTINUE_TOOLS_BIN`` override it for the two scripts.
    """
    variable = {"build-node.sh": "KONTINUE_NODE_BIN", "build-tools.sh": "KONTINUE_TOOLS_BIN"}
    override = os.environ.get(variable.get(script_name, ""), "")
    if override:
        return _check(Path(override), required)
    script = _build_script(script_name)
    if script is None:
        raise TestbinError(f"cannot find hack/testbin/{script_name}: run from a kontinue checkout")
    args = ["bash", str(script)] + ([] if build else ["--print-bin"])
    result = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        hint = "" if build else f" (build them with: bash {script})"
        raise TestbinError(f"{', '.join(required)} are not available{hint}")
    return _check(Path(result.stdout.strip().splitlines()[-1]), required)
