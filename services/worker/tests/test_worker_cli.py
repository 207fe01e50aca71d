from __future__ import annotations

import pytest

from kontinue_worker import cli, registration


def test_modules_and_path_come_from_the_image_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cli.MODULES_ENV, "acme.flows, acme.more")
    monkeypatch.setenv(cli.PATH_ENV, "/app/workflows:/app/extra")
    args = cli.parse_args([])
    assert args.module == ["acme.flows", "acme.more"]
    assert args.path == ["/app/workflows", "/app/extra"]
    assert args.job_steps is True


def test_flags_replace_the_modules_and_add_to_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli.MODULES_ENV, "acme.flows")
    monkeypatch.setenv(cli.PATH_ENV, "/app/workflows")
    args = cli.parse_args(["--module", "other.flows", "--path", "/src", "--no-job-steps"])
    assert args.module == ["other.flows"]
    assert args.path == ["/src", "/app/workflows"]
    assert args.job_steps is False


def test_no_module_at_all_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(cli.MODULES_ENV, raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.parse_args([])
    assert exited.value.code == 2
    assert cli.MODULES_ENV in capsys.readouterr().err


def test_the_version_and_the_versions_to_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registration.VERSION_ENV, raising=False)
    monkeypatch.delenv(cli.UPGRADE_ENV, raising=False)
    args = cli.parse_args(["-m", "flows"])
    assert args.worker_version == "" and args.upgrade_from == frozenset() and not args.drain
    assert cli.parse_args(["-m", "flows", "--drain"]).drain
    args = cli.parse_args(
        ["-m", "flows", "--version", "v3", "--upgrade-from", "v1,v2", "--upgrade-from", "v0"]
    )
    assert args.worker_version == "v3"
    assert args.upgrade_from == {"v0", "v1", "v2"}
    assert cli.parse_args(["-m", "flows", "--worker-version", "v4"]).worker_version == "v4"


def test_the_version_and_the_upgrades_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(registration.VERSION_ENV, "1.2.0")
    monkeypatch.setenv(cli.UPGRADE_ENV, "1.1.0, 1.0.0")
    monkeypatch.setenv(cli.DRAIN_ENV, "true")
    args = cli.parse_args(["-m", "flows"])
    assert args.drain
    assert args.worker_version == "1.2.0"
    assert args.upgrade_from == {"1.1.0", "1.0.0"}
    assert cli.parse_args(["-m", "flows", "--upgrade-from", "*"]).upgrade_from == {"*"}
