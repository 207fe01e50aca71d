"""The CLI shows what the cluster holds as text, never as markup or terminal codes.

An execution whose message, error and step names carry rich markup (``[/x]``, which crashed
``kontinue show``) and terminal escape sequences (clear the screen, set the window title,
hide text) is listed and shown: the commands succeed, the text appears literally, and the
escape sequences appear as visible ``\\x1b`` escapes instead of reaching the terminal, with
colours on (``FORCE_COLOR``) or off.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from kontinue.api import manifests
from kontinue.client import Kube, kubeapi
from kontinue_testkit.pytest_plugin import KONTINUE, TestCluster

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;owned\x07"
HIDDEN = "\x1b[8mhidden\x1b[0m"
MESSAGE = f"deploy [/x] [bold red]not bold[/bold red] {CLEAR}{TITLE}{HIDDEN}"


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_cluster_text_is_shown_not_interpreted(
    kube_cluster: TestCluster, namespace: str, colour: bool
) -> None:
    admin = Kube(str(kube_cluster.kubeconfig))
    admin.create(kubeapi.EXECUTIONS, namespace, manifests.execution_manifest("f", name="odd"))
    admin.merge_patch(
        kubeapi.EXECUTIONS, namespace, "odd",
        {"status": {
            "phase": "Failed", "message": MESSAGE,
            "error": {"kind": "execution", "message": f"[/red]{CLEAR}boom"},
            "steps": {"step-[/x]": {"index": 0, "type": "store", "phase": "Completed",
                                    "displayName": f"[link=http://evil]{TITLE}click"}},
        }},
        subresource="status",
    )  # fmt: skip
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig), "COLUMNS": "400"}
    env.pop("FORCE_COLOR", None)
    env.pop("NO_COLOR", None)
    if colour:
        env["FORCE_COLOR"] = "1"
    for command in (["show", "odd"], ["list"], ["list", "-o", "wide"]):
        result = subprocess.run(
            [KONTINUE, *command, "-n", namespace],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        out = result.stdout + result.stderr
        assert result.returncode == 0, (command, out)
        assert "deploy [/x] [bold red]not bold[/bold red]" in out, (command, out)
        for sequence in (CLEAR, TITLE, "\x1b[8m", "\x07", "\x1b]"):
            assert sequence not in out, (command, sequence, out)
        assert "\\x1b[2J" in out and "\\x1b]0;owned\\x07" in out, (command, out)
        if command[0] == "show":
            assert "[/red]\\x1b[2Jboom" in out and "step" in out, out
            assert "[link=http://evil]\\x1b]0;owned\\x07click" in out, out
