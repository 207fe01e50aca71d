from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kontinue.devcluster._pki import create_pki


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_leaf_certificates_are_signed_by_the_ca(tmp_path: Path) -> None:
    pki = create_pki(tmp_path)
    ca = _cert(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for leaf_path in (pki.serving_cert, pki.admin_cert):
        leaf = _cert(leaf_path)
        leaf.verify_directly_issued_by(ca)


def test_serving_certificate_covers_loopback_and_the_service_ip(tmp_path: Path) -> None:
    pki = create_pki(tmp_path)
    serving = _cert(pki.serving_cert)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage


def test_admin_certificate_is_in_system_masters(tmp_path: Path) -> None:
    pki = create_pki(tmp_path, admin_user="alice")
    admin = _cert(pki.admin_cert)
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    orgs = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:masters"]
    key = serialization.load_pem_private_key(pki.admin_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == admin.public_key().public_numbers()  # type: ignore[union-attr]


def test_service_account_key_pair_matches_and_private_keys_are_private(tmp_path: Path) -> None:
    pki = create_pki(tmp_path)
    private = serialization.load_pem_private_key(pki.sa_private_key.read_bytes(), password=None)
    public = serialization.load_pem_public_key(pki.sa_public_key.read_bytes())
    assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
    from cryptography.hazmat.primitives import hashes

    signature = private.sign(b"token", padding.PKCS1v15(), hashes.SHA256())
    public.verify(signature, b"token", padding.PKCS1v15(), hashes.SHA256())
    for key in (pki.ca_key, pki.serving_key, pki.admin_key, pki.sa_private_key):
        assert key.stat().st_mode & 0o077 == 0
