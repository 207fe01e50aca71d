"""The CRD files in crds/ agree with kontinue.api and with each other (no cluster needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kontinue.api import group

CRD_DIR = Path(__file__).resolve().parents[3] / "crds"


def _crds() -> dict[str, dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]
    return {d["spec"]["names"]["kind"]: d for d in docs}


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(_walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_walk(value, f"{path}[{index}]"))
    return found


def test_one_file_per_kind_matching_kontinue_api() -> None:
    crds = _crds()
    assert set(crds) == {k.kind for k in group.ALL_KINDS}
    for kind in group.ALL_KINDS:
        crd = crds[kind.kind]
        assert crd["metadata"]["name"] == kind.crd_name
        assert (CRD_DIR / f"{group.GROUP}_{kind.plural}.yaml").is_file()
        names = crd["spec"]["names"]
        assert (names["plural"], names["singular"]) == (kind.plural, kind.singular)
        assert tuple(names["shortNames"]) == kind.short_names
        assert names["categories"] == [group.CATEGORY]
        assert crd["spec"]["group"] == group.GROUP
        assert crd["spec"]["scope"] == "Namespaced"
        (version,) = crd["spec"]["versions"]
        assert version["name"] == group.VERSION
        assert version["subresources"] == {"status": {}}
        assert version["additionalPrinterColumns"]


def test_every_duration_field_uses_the_same_pattern() -> None:
    patterns = set()
    for crd in _crds().values():
        for path, node in _walk(crd):
            if (
                path.rsplit(".", 1)[-1]
                in {"backoff", "overall", "attempt", "archiveAfter", "deleteAfter"}
                and "pattern" in node
            ):
                patterns.add(node["pattern"])
    assert len(patterns) == 1
    (pattern,) = patterns
    regex = re.compile(pattern)
    for good in ["5s", "250ms", "1h30m", "7d", "1.5h", "2d12h30m15s"]:
        assert regex.fullmatch(good), good
    for bad in ["", "5", "5 minutes", "-5s", "1y", "h", "5S"]:
        assert not regex.fullmatch(bad), bad


def _cron_regex() -> re.Pattern[str]:
    schedule = _crds()["ScheduledExecution"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"
    ]["spec"]["properties"]["schedule"]
    rule = schedule["x-kubernetes-validations"][0]["rule"]
    match = re.fullmatch(r'self\.matches\(r"(.*)"\)', rule)
    assert match, rule
    return re.compile(match.group(1))


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * * *",
        "*/5 * * * *",
        "0 0 1 1 *",
        "59 23 31 12 7",
        "0 9-17 * * MON-FRI",
        "15,45 */2 1-15 jan,Jul 0",
        "0 0 * * sun",
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "0-30/10 * * * *",
        "*/10 * * * * *",
        "30 0 9 * * MON",
    ],
)
def test_cron_rule_accepts(schedule: str) -> None:
    assert _cron_regex().match(schedule)


@pytest.mark.parametrize(
    "schedule",
    [
        "",
        "* * * *",
        "* * * * * * *",
        "60 * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 0 *",
        "* * * 13 *",
        "* * * * 8",
        "@every 5m",
        "@reboot",
        "not a cron",
        "* * * * MONDAY",
    ],
)
def test_cron_rule_rejects(schedule: str) -> None:
    assert not _cron_regex().match(schedule)


def test_phases_agree_across_kinds() -> None:
    crds = _crds()
    execution = crds["Execution"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    phases = execution["properties"]["status"]["properties"]["phase"]["enum"]
    assert phases == [
        "Pending",
        "Executing",
        "Suspended",
        "Backoff",
        "Completed",
        "Failed",
        "Canceled",
        "Skipped",
    ]
    for path, node in _walk(crds):
        if path.endswith(".phase") and "enum" in node and "Executing" in node["enum"]:
            assert node["enum"] == phases, path
