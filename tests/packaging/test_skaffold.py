"""skaffold.yaml: valid against skaffold's schema (each profile applied too), and consistent
with the Dockerfiles and the chart it builds and deploys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
SCHEMA = json.loads((ROOT / "hack" / "skaffold" / "v4beta14.json").read_text())
VALUES = yaml.safe_load((ROOT / "charts" / "kontinue" / "values.yaml").read_text())


def _validate(config: dict[str, Any]) -> None:
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(config))
    assert not errors, [e.message[:500] for e in errors]


def _patched(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply the ``add``/``replace`` JSON patches a profile carries (paths must exist)."""
    result = copy.deepcopy(config)
    for patch in patches:
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in patch["path"][1:].split("/")
        ]
        target: Any = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        assert patch["op"] in ("add", "replace"), patch
        if patch["op"] == "replace":
            assert last in target, f"{patch['path']} replaces nothing"
        target[last] = patch["value"]
    return result


def test_skaffold_yaml_is_valid() -> None:
    assert CONFIG["apiVersion"] == "skaffold/v4beta14"
    _validate(CONFIG)


@pytest.mark.parametrize("profile", CONFIG["profiles"], ids=lambda p: p["name"])
def test_each_profile_applied_is_valid(profile: dict[str, Any]) -> None:
    config = {k: v for k, v in CONFIG.items() if k != "profiles"}
    for section in ("build", "deploy", "portForward"):
        if section in profile:
            config[section] = profile[section]
    _validate(_patched(config, profile.get("patches", [])))


def test_profiles_for_kind_remote_and_dev() -> None:
    profiles = {p["name"]: p for p in CONFIG["profiles"]}
    assert profiles["kind"]["activation"] == [{"kubeContext": "kind-.*"}]
    assert profiles["remote"]["build"]["local"]["push"] is True
    assert profiles["dev"]["activation"] == [{"command": "dev"}]
    dev = _patched(CONFIG, profiles["dev"]["patches"])
    synced = [a["image"] for a in dev["build"]["artifacts"] if "sync" in a]
    assert synced == ["kontinue-controller", "kontinue-ui", "kontinue-example-worker"]
    assert dev["deploy"]["helm"]["releases"][0]["setValues"]["dev.reload"] is True


def test_artifacts_build_the_three_images_and_the_chart_uses_them() -> None:
    artifacts = {a["image"]: a for a in CONFIG["build"]["artifacts"]}
    for service in ("controller", "worker", "ui"):
        artifact = artifacts[f"kontinue-{service}"]
        assert artifact["docker"]["dockerfile"] == f"services/{service}/Dockerfile"
        assert (ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).exists()
    example = artifacts["kontinue-example-worker"]
    assert (ROOT / example["context"] / example["docker"]["dockerfile"]).exists()
    assert example["requires"] == [{"image": "kontinue-worker", "alias": "KONTINUE_WORKER_IMAGE"}]
    assert "ARG KONTINUE_WORKER_IMAGE" in (ROOT / example["context"] / "Dockerfile").read_text()
    (release,) = CONFIG["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"] / "Chart.yaml").exists()
    for key in [*release["setValueTemplates"], *release["setValues"]]:
        node: Any = VALUES
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key} is not a chart value"
            node = node[part]
    (forward,) = CONFIG["portForward"]
    assert forward["resourceName"] == f"{release['name']}-ui"  # the chart's UI Service
    assert forward["port"] == VALUES["ui"]["service"]["port"]


def test_dev_sync_sources_exist() -> None:
    profiles = {p["name"]: p for p in CONFIG["profiles"]}
    dev = _patched(CONFIG, profiles["dev"]["patches"])
    for artifact in dev["build"]["artifacts"]:
        for rule in (artifact.get("sync") or {}).get("manual", []):
            context = ROOT / artifact["context"]
            assert list(context.glob(rule["src"])), (artifact["image"], rule)
