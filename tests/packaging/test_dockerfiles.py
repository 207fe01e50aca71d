"""The Dockerfiles lint clean (hadolint) and build images that fit the chart: multi-stage, a
non-root user, one exec-form entrypoint per image, no CMD, the UI's asset stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kontinue_testkit.images import image_config

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("controller", "worker", "ui")
DOCKERFILES = [ROOT / "services" / s / "Dockerfile" for s in SERVICES] + [
    ROOT / "examples" / "worker-image" / "Dockerfile"
]


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_service_image(service: str) -> None:
    dockerfile = ROOT / "services" / service / "Dockerfile"
    image = image_config(dockerfile)
    assert image.stages[0] == "runtime"
    assert image.entrypoint == [f"kontinue-{service}"]
    assert image.cmd is None
    assert image.user == "10001:10001"
    assert image.env["PYTHONDONTWRITEBYTECODE"] == "1"  # nothing written to a read-only root
    assert image.env["PATH"].startswith("/opt/kontinue/bin:")
    dev = image_config(dockerfile, "dev")
    assert dev.stages == ["runtime", "dev"] and dev.entrypoint == image.entrypoint
    assert dev.env["PYTHONPATH"] == "/opt/kontinue/dev" and dev.user == "10001:10001"
    text = dockerfile.read_text()
    assert text.count("\nFROM ") >= 3  # build, runtime (and dev): no build tools at runtime
    assert "COPY --from=build /opt/kontinue /opt/kontinue" in text


def test_ui_image_vendors_its_assets_in_a_node_stage() -> None:
    text = (ROOT / "services" / "ui" / "Dockerfile").read_text()
    assert "FROM ${NODE_IMAGE} AS assets" in text
    assert "RUN bash vendor-assets.sh" in text
    assert "COPY --from=assets /src/services/ui/kontinue_ui/static/vendor" in text


def test_worker_is_a_base_image() -> None:
    worker = image_config(ROOT / "services" / "worker" / "Dockerfile")
    assert worker.env["KONTINUE_WORKER_PATH"] == "/app/workflows"
    assert worker.workdir == "/app"
    example = (ROOT / "examples" / "worker-image" / "Dockerfile").read_text()
    assert "FROM ${KONTINUE_WORKER_IMAGE}" in example
    assert "COPY --chown=10001:10001 workflows/ /app/workflows/" in example
    modules = image_config(ROOT / "examples" / "worker-image" / "Dockerfile").env
    module = modules["KONTINUE_WORKER_MODULES"].replace(".", "/")
    assert (ROOT / "examples" / "worker-image" / "workflows" / f"{module}.py").exists()


def test_dockerignore_lets_in_only_sources() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in lines
    assert "!sdk/kontinue/**" in lines and "services/ui/kontinue_ui/static/vendor" in lines
