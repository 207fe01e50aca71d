"""The Helm chart ships the CRDs from crds/ itself (a link, not a copy) and lints clean."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path
from typing import Any

import yaml

from kontinue_testkit.pytest_plugin import TestCluster

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kontinue"


def _helm(kube_cluster: TestCluster, *args: str) -> str:
    result = subprocess.run(
        [str(kube_cluster.bin_dir / "helm"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chart_crds_directory_is_the_repository_crds() -> None:
    link = CHART / "crds"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "crds").resolve()


def test_helm_lint_passes(kube_cluster: TestCluster) -> None:
    out = _helm(kube_cluster, "lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def test_helm_show_crds_and_the_packaged_chart_carry_the_files(
    kube_cluster: TestCluster, tmp_path: Path
) -> None:
    expected = {
        p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "crds").glob("*.yaml"))
    }
    shown = [d for d in yaml.safe_load_all(_helm(kube_cluster, "show", "crds", str(CHART))) if d]
    assert sorted(d["metadata"]["name"] for d in shown) == sorted(
        d["metadata"]["name"] for d in expected.values()
    )
    assert sorted(shown, key=lambda d: d["metadata"]["name"]) == sorted(
        expected.values(), key=lambda d: d["metadata"]["name"]
    )
    _helm(kube_cluster, "package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("kontinue-*.tgz")
    with tarfile.open(archive) as tar:
        packaged = {
            Path(m.name).name: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.name.startswith("kontinue/crds/")
        }
    assert set(packaged) == set(expected)
    for name, text in packaged.items():
        assert text == (ROOT / "crds" / name).read_text()


def _verbs_on(rules: list[dict[str, Any]], resource: str) -> set[str]:
    return {
        verb
        for rule in rules
        if "kontinue.cloud" in rule.get("apiGroups", []) and resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def test_the_chart_grants_each_component_its_rights_on_signals(kube_cluster: TestCluster) -> None:
    rendered = _helm(kube_cluster, "template", "kontinue", str(CHART), "--namespace", "kontinue",
                     "--set", "ui.auth.anonymousActions=true")  # fmt: skip
    roles = {
        d["metadata"]["name"]: d.get("rules") or []
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] in ("Role", "ClusterRole")
    }

    def rules_of(suffix: str) -> list[dict[str, Any]]:
        found = [rules for name, rules in roles.items() if name.endswith(suffix)]
        assert found, (suffix, sorted(roles))
        return found[0]

    assert _verbs_on(rules_of("-worker"), "signals") == {"get", "list", "watch"}  # read only
    assert _verbs_on(rules_of("-controller"), "signals") == {"get", "list", "watch"}
    assert _verbs_on(rules_of("-ui"), "signals") == {"get", "list", "watch", "create"}
    assert _verbs_on(rules_of(".view"), "signals") == {"get", "list", "watch"}
    assert _verbs_on(rules_of(".edit"), "signals") == {"get", "list", "watch", "create"}
    patched = {
        resource
        for rules in roles.values()
        for rule in rules
        if "patch" in rule.get("verbs", [])
        for resource in rule.get("resources", [])
    }
    assert "signals" not in patched  # nobody changes a Signal once sent
