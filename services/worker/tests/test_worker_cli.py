from __future__ import annotations

import pytest

from kontinue_worker import cli


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
