"""Audit the hashed locks with pip-audit; fail on any finding neither fixed nor explained.

requirements/dev.txt and reload.txt hold every package the images and CI install.

    python hack/lock/audit.py            (make audit; CI runs it)

Explained findings live in requirements/audit-exceptions.toml, one ``[[exception]]`` table per
vulnerability with ``id``, ``package`` and ``reason`` (why it does not apply, or why it cannot be
fixed yet and what limits it). An exception that no longer matches a finding is reported, so
the file does not keep stale entries.

pip-audit asks PyPI for the vulnerabilities of each pinned release. Where PyPI's per-release
JSON is not served (some mirrors answer only the per-project document), the project document is
used instead: its vulnerability list is that of the newest release, so it settles a package
pinned at its newest release; a package pinned below it stays unaudited and is named. The run
fails when nothing at all could be audited: an audit that checked nothing is never a pass.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOCKS = [ROOT / "requirements" / "dev.txt", ROOT / "requirements" / "reload.txt"]
EXCEPTIONS = ROOT / "requirements" / "audit-exceptions.toml"
PYPI = os.environ.get("KONTINUE_PYPI_JSON", "https://pypi.org/pypi")


@dataclass(frozen=True)
class Finding:
    """One vulnerability of one pinned package."""

    package: str
    version: str
    id: str
    fixed_in: tuple[str, ...]
    aliases: tuple[str, ...]


def _pip_audit(lock: Path) -> dict[str, Any]:
    command = [
        str(Path(sys.executable).parent / "pip-audit"),
        "--require-hashes", "--disable-pip", "--progress-spinner", "off",
        "--format", "json", "--vulnerability-service", "pypi", "-r", str(lock),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        sys.exit(f"audit: pip-audit failed on {lock.name}: {result.stderr.strip()[-2000:]}")
    return report


def _pins(lock: Path) -> dict[str, str]:
    """Package -> version of a uv-compiled lock (its ``name==version`` lines)."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ", 1)[0].split("==", 1)
            pins[name.lower()] = version
    return pins


def _context() -> ssl.SSLContext:
    bundle = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()


def _project_vulns(name: str, version: str) -> list[Finding] | None:
    """The findings for ``name==version`` from PyPI's project document, None if it cannot say."""
    try:
        with urllib.request.urlopen(f"{PYPI}/{name}/json", context=_context(), timeout=30) as r:
            document = json.load(r)
    except (urllib.error.URLError, OSError, json.JSONDecodeError):
        return None
    if document.get("info", {}).get("version") != version:
        return None
    return [
        Finding(
            name, version, v["id"], tuple(v.get("fixed_in") or ()), tuple(v.get("aliases") or ())
        )
        for v in document.get("vulnerabilities") or []
        if not v.get("withdrawn")
    ]


def main() -> int:
    """Audit, print one summary line (and the findings), return the exit code."""
    exceptions = {
        (e["package"].lower(), e["id"]): e["reason"]
        for e in tomllib.loads(EXCEPTIONS.read_text()).get("exception", [])
    }
    findings: set[Finding] = set()
    by_pip_audit: set[str] = set()
    by_project: set[str] = set()
    unaudited: set[str] = set()
    packages: set[str] = set()
    for lock in LOCKS:
        pins = _pins(lock)
        for dependency in _pip_audit(lock)["dependencies"]:
            name = dependency["name"].lower()
            version = dependency.get("version") or pins.get(name, "")
            pinned = f"{name}=={version}"
            packages.add(pinned)
            if "skip_reason" not in dependency:
                by_pip_audit.add(pinned)
                findings.update(
                    Finding(name, version, v["id"], tuple(v.get("fix_versions") or ()),
                            tuple(v.get("aliases") or ()))
                    for v in dependency.get("vulns", [])
                )  # fmt: skip
                continue
            fallback = _project_vulns(name, version)
            if fallback is None:
                unaudited.add(pinned)
            else:
                by_project.add(pinned)
                findings.update(fallback)
    audited = len(by_pip_audit | by_project)
    unexplained = [f for f in findings if (f.package, f.id) not in exceptions]
    matched = {(f.package, f.id) for f in findings}
    stale = [key for key in exceptions if key not in matched]
    print(
        f"audit: {len(packages)} pinned packages, {audited} audited ({len(by_pip_audit)} through "
        f"pip-audit, {len(by_project)} through PyPI's project data), {len(unaudited)} not "
        f"auditable here; {len(findings)} findings, {len(findings) - len(unexplained)} explained"
    )
    for finding in sorted(findings, key=lambda f: (f.package, f.id)):
        reason = exceptions.get((finding.package, finding.id), "NOT EXPLAINED")
        fixed = ", ".join(finding.fixed_in) or "no fixed release"
        print(f"  {finding.package}=={finding.version} {finding.id} (fixed in {fixed}): {reason}")
    if unaudited:
        names = ", ".join(sorted(unaudited))
        print(f"  not auditable here (pinned below the newest release): {names}")
    for package, vuln in stale:
        print(f"  stale exception: {package} {vuln} matches no finding; remove it")
    if not audited:
        print("audit: nothing could be audited (no vulnerability data reachable)", file=sys.stderr)
        return 1
    if unexplained:
        print(
            f"audit: {len(unexplained)} findings neither fixed nor explained: upgrade (make lock "
            "with --upgrade) or explain them in requirements/audit-exceptions.toml",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
