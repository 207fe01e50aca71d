from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, cast

from kontinue.client import kubeapi
from kontinue_worker import leasing


def keeper(version: str, upgrade_from: frozenset[str] = frozenset()) -> leasing.LeaseKeeper:
    return leasing.LeaseKeeper(
        cast(kubeapi.Kube, None), ["ns"], worker="pod", identity="pod-1", group="default",
        functions=["f"], duration=15, stop=threading.Event(), version=version,
        upgrade_from=upgrade_from,
    )  # fmt: skip


def manifest(k: leasing.LeaseKeeper) -> dict[str, Any]:
    return k._manifest(datetime.now(UTC))  # noqa: SLF001 - what the Lease says


def test_a_lease_says_which_versions_its_worker_claims() -> None:
    pinned = manifest(keeper("v1"))
    assert pinned["metadata"]["annotations"][leasing.VERSION_ANNOTATION] == "v1"
    assert leasing.UPGRADE_ANNOTATION not in pinned["metadata"]["annotations"]
    assert leasing.serves_version(pinned, "v1")
    assert not leasing.serves_version(pinned, "v0")
    upgrading = manifest(keeper("v2", frozenset({"v1", "v0"})))
    assert upgrading["metadata"]["annotations"][leasing.UPGRADE_ANNOTATION] == "v0,v1"
    assert leasing.serves_version(upgrading, "v0") and leasing.serves_version(upgrading, "v2")
    assert not leasing.serves_version(upgrading, "v9")


def test_a_lease_without_a_version_claims_any() -> None:
    assert leasing.serves_version({"metadata": {"annotations": {}}}, "v1")
