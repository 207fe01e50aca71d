"""Certificates and keys for the local control plane.

One CA signs the apiserver's serving certificate (valid for 127.0.0.1, localhost and any extra
address the apiserver is given), the admin client certificate (group ``system:masters``) and the
apiserver's client certificate for kubelets; a separate RSA key pair signs and verifies
service-account tokens. :func:`issue` signs more certificates with the same CA later (the real
node's kubelet and kube-proxy). Everything is written as PEM files into one directory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files that make up the local cluster's PKI."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The cluster CA certificate."""
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The cluster CA private key."""
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        """The kube-apiserver serving certificate."""
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        """The kube-apiserver serving key."""
        return self.directory / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        """The admin client certificate (``system:masters``)."""
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        """The admin client key."""
        return self.directory / "admin.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The apiserver's client certificate for kubelet APIs (``system:masters``)."""
        return self.directory / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        """Its key."""
        return self.directory / "apiserver-kubelet-client.key"

    @property
    def sa_private_key(self) -> Path:
        """The service-account token signing key."""
        return self.directory / "sa.key"

    @property
    def sa_public_key(self) -> Path:
        """The service-account token verification key."""
        return self.directory / "sa.pub"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    san: x509.SubjectAlternativeName | None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(subject, ca_name, key.public_key()).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def issue(
    pki: Pki,
    stem: str,
    common_name: str,
    *,
    organization: str | None = None,
    server_ips: tuple[str, ...] = (),
    server_names: tuple[str, ...] = (),
) -> tuple[Path, Path]:
    """Sign one more certificate with the cluster CA; returns the paths of the cert and key.

    With ``server_ips`` or ``server_names`` it is a serving certificate for those addresses,
    otherwise a client certificate for ``common_name`` in group ``organization``.
    """
    loaded = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki.ca_key} is not the EC key create_pki writes")
    ca_name = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()).subject
    serving = bool(server_ips or server_names)
    san = None
    if serving:
        san = x509.SubjectAlternativeName(
            [x509.DNSName(name) for name in server_names]
            + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
        )
    usage = ExtendedKeyUsageOID.SERVER_AUTH if serving else ExtendedKeyUsageOID.CLIENT_AUTH
    cert, key = _leaf(loaded, ca_name, _name(common_name, organization), usage, san)
    cert_path, key_path = pki.directory / f"{stem}.crt", pki.directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return cert_path, key_path


def create_pki(
    directory: Path,
    *,
    admin_user: str = "kontinue-admin",
    extra_server_ips: tuple[str, ...] = (),
) -> Pki:
    """Create a fresh CA, serving and client certificates and the service-account key pair.

    ``extra_server_ips``: addresses besides 127.0.0.1 the apiserver's certificate is valid for.
    """
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("kontinue-local-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.ca_key, ca_key)
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def leaf(
        subject: x509.Name, usage: x509.ObjectIdentifier, san: x509.SubjectAlternativeName | None
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        return _leaf(ca_key, ca_name, subject, usage, san)

    serving, serving_key = leaf(
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.SubjectAlternativeName(
            [
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
                *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in extra_server_ips),
            ]
        ),
    )
    pki.serving_cert.write_bytes(serving.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.serving_key, serving_key)

    admin, admin_key = leaf(
        _name(admin_user, "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, None
    )
    pki.admin_cert.write_bytes(admin.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.admin_key, admin_key)

    kubelet_client, kubelet_client_key = leaf(
        _name("kube-apiserver-kubelet-client", "system:masters"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
        None,
    )
    pki.kubelet_client_cert.write_bytes(kubelet_client.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.kubelet_client_key, kubelet_client_key)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki.sa_private_key, sa_key)
    pki.sa_public_key.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki
