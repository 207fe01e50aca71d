from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kontinue.devcluster._kubeconfig import render_kubeconfig


def test_certificate_kubeconfig_embeds_the_files(tmp_path: Path) -> None:
    for name in ("ca.crt", "c.crt", "c.key"):
        (tmp_path / name).write_text(f"PEM {name}")
    config = yaml.safe_load(
        render_kubeconfig(
            server="https://127.0.0.1:6443",
            ca_cert=tmp_path / "ca.crt",
            client_cert=tmp_path / "c.crt",
            client_key=tmp_path / "c.key",
            namespace="team-a",
        )
    )
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM ca.crt"
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == b"PEM c.crt"
    assert base64.b64decode(user["client-key-data"]) == b"PEM c.key"
    context = config["contexts"][0]
    assert config["current-context"] == context["name"]
    assert context["context"]["namespace"] == "team-a"


def test_token_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("PEM")
    config = yaml.safe_load(
        render_kubeconfig(
            server="https://x", ca_cert=tmp_path / "ca.crt", token="abc", user_name="sa"
        )
    )
    assert config["users"] == [{"name": "sa", "user": {"token": "abc"}}]


def test_a_kubeconfig_needs_credentials(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("PEM")
    with pytest.raises(ValueError, match="client certificate and key, or a token"):
        render_kubeconfig(
            server="https://x", ca_cert=tmp_path / "ca.crt", client_cert=tmp_path / "ca.crt"
        )
