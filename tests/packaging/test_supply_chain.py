"""Supply chain: base images pinned by digest, third-party Python packages only from hashed
locks that agree with every pyproject.toml, the images installing from them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
SERVICES = ("controller", "worker", "ui")
LOCAL = {"kontinue", "kontinue-controller", "kontinue-worker", "kontinue-ui", "kontinue-testkit"}
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\$")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(name: str) -> dict[str, str]:
    """Package -> version; every pin carries at least one sha256 hash."""
    text = (LOCKS / f"{name}.txt").read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        first = block.splitlines()[0]
        if first.startswith("#") or not first.strip():
            continue
        match = _PIN.match(first)
        assert match, f"{name}.txt: not a pinned requirement: {first!r}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{name}.txt: {first} has no hash"
        pins[_normal(match.group(1))] = match.group(2)
    return pins


def _declared(pyproject: Path, extras: tuple[str, ...] = ()) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = [Requirement(r) for r in project.get("dependencies", [])]
    for extra in extras:
        requirements += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in requirements if _normal(r.name) not in LOCAL]


def _satisfied(requirements: list[Requirement], pins: dict[str, str], where: str) -> None:
    for requirement in requirements:
        version = pins.get(_normal(requirement.name))
        assert version is not None, f"{requirement.name} is not in {where} (run: make lock)"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{where} pins {requirement.name}=={version}, outside {requirement} (run: make lock)"
        )


def test_dev_lock_covers_every_package_and_tool() -> None:
    pins = _lock("dev")
    declared = _declared(ROOT / "sdk" / "pyproject.toml", ("devcluster", "telemetry"))
    for package in (*(f"services/{s}" for s in SERVICES), "testkit"):
        declared += _declared(ROOT / package / "pyproject.toml")
    tools = [
        Requirement(line.split("#")[0].strip())
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    _satisfied(declared + tools, pins, "requirements/dev.txt")
    assert "setuptools" in pins and "pip" in pins  # the build backend and installer, hashed too


@pytest.mark.parametrize("service", SERVICES)
def test_image_lock_matches_the_service_and_ci(service: str) -> None:
    pins = _lock(service)
    declared = _declared(ROOT / "sdk" / "pyproject.toml", ("telemetry",))
    declared += _declared(ROOT / "services" / service / "pyproject.toml")
    _satisfied(declared, pins, f"requirements/{service}.txt")
    dev = _lock("dev")
    assert {p: v for p, v in pins.items() if dev.get(p) != v} == {}  # CI tested these versions
    assert "setuptools" in pins


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_installs_only_from_the_hashed_lock(service: str) -> None:
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    assert f"COPY requirements/{service}.txt /src/requirements.txt" in text
    assert "pip install --require-hashes --no-deps -r /src/requirements.txt" in text
    installs = re.findall(r"pip install[^\n]*(?:\\\n[^\n]*)*", text)
    for install in installs:  # every other pip install takes no dependency from an index
        assert "--require-hashes" in install or "--no-deps" in install, install
    assert "--no-build-isolation" in text
    assert "-r /tmp/reload.txt" in text  # the dev target's watchfiles, hashed too
    _lock("reload")
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert f"!requirements/{service}.txt" in ignore and "!requirements/reload.txt" in ignore


def test_base_images_are_pinned_by_digest_with_the_public_default() -> None:
    dockerfiles = [ROOT / "services" / s / "Dockerfile" for s in SERVICES]
    seen = set()
    for dockerfile in dockerfiles:
        for name, value in re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", dockerfile.read_text(), re.M):
            assert re.fullmatch(r"[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}", value), value
            seen.add((name, value.split("@")[0]))
        assert "# syntax=" not in dockerfile.read_text()  # no frontend image to pull
    assert seen == {
        ("PYTHON_IMAGE", "python:3.11-slim-bookworm"),
        ("NODE_IMAGE", "node:22-bookworm-slim"),
    }
    script = (ROOT / "hack" / "images" / "update-digests.sh").read_text()
    assert "python:3.11-slim-bookworm" in script or "PYTHON_IMAGE" in script
