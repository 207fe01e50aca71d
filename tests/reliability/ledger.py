"""The reliability tests' checker of side effects: the ledger against the committed steps.

Each run of a store step's function wrote a ledger line (see ``flows/reliability_flows.py``)
with a fresh token; the step committed ``{"v": ..., "t": token}`` of exactly one run. For every
committed step of every execution:

- its committed run must be in the ledger (else an effect was lost);
- a run by the committing claim (the claim counter of the attempt that ran it) or a later one,
  other than the committed run, is a duplicate: a committed step ran again;
- runs by earlier claims are in-flight reruns: a worker ran the step and died, was paused or
  lost its claim before its commit landed, and the replay ran it again, which the design allows
  (at least once for the step in flight, never again once committed). A paused worker may even
  finish its run after the new claim committed; its own commit is then fenced.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kontinue.client import Kube, kubeapi


def read_ledger(directory: Path) -> list[dict[str, Any]]:
    """Every ledger line written so far (a torn last line of a killed worker is skipped)."""
    entries = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def committed_values(kube: Kube, execution: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values of an execution: its status and its compacted journal chunks."""
    meta = execution["metadata"]
    values: dict[str, Any] = {}
    chunks = int(((execution.get("status") or {}).get("journal") or {}).get("chunks") or 0)
    if chunks:
        listing = kube.list(
            kubeapi.CONFIGMAPS,
            meta["namespace"],
            label_selector=f"kontinue.cloud/journal={meta['name']}",
        )
        for chunk in listing.get("items") or []:
            values.update(json.loads((chunk.get("data") or {}).get("state", "{}")))
    values.update((execution.get("status") or {}).get("state") or {})
    return values


@dataclass
class EffectReport:
    """What the ledger says about the effects of the checked executions."""

    steps: int = 0
    """Committed steps checked."""
    duplicated: int = 0
    """Runs of a committed step by its committing claim or a later one, beyond the one."""
    inflight_reruns: int = 0
    """Runs of a step by earlier claims (their commits never landed)."""
    missing: int = 0
    """Committed steps whose committed run is not in the ledger."""
    most_reruns: int = 0
    """The largest number of extra runs of a single step."""
    details: list[str] = field(default_factory=list)


def check_effects(
    executions: Iterable[Mapping[str, Any]],
    values: Mapping[str, Mapping[str, Any]],
    ledger: list[dict[str, Any]],
) -> EffectReport:
    """Compare the committed steps (``values``: uid -> step -> value) with the ledger."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in ledger:
        runs[(entry["uid"], entry["step"])].append(entry)
    report = EffectReport()
    for execution in executions:
        uid = execution["metadata"]["uid"]
        for step, value in (values.get(uid) or {}).items():
            if not isinstance(value, dict) or "t" not in value:
                continue  # not a ledger step (a job outcome, a poll)
            report.steps += 1
            entries = sorted(runs.get((uid, step), []), key=lambda e: e["time"])
            committed = [i for i, e in enumerate(entries) if e["token"] == value["t"]]
            name = execution["metadata"]["name"]
            if not committed:
                report.missing += 1
                report.details.append(f"{name} step {step}: committed run not in the ledger")
                continue
            claim = int(entries[committed[0]]["claim"])
            others = [e for i, e in enumerate(entries) if i != committed[0]]
            stale = [e for e in others if int(e["claim"]) < claim]
            again = [e for e in others if int(e["claim"]) >= claim]
            report.inflight_reruns += len(stale)
            report.most_reruns = max(report.most_reruns, len(others))
            if again:
                report.duplicated += len(again)
                report.details.append(
                    f"{name} step {step}: committed by claim {claim}, run again by claim(s) "
                    f"{sorted(int(e['claim']) for e in again)}"
                )
    return report
