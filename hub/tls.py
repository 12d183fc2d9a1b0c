"""The ORP's certificate authority: town halls log in with client certificates, not passwords.

`spisync hub ca init` creates the CA under `<data_dir>/ca/` (`ca.pem`, and
`ca.key` readable only by the hub's user). `provision-agent --tls` issues each
obec a key and a certificate whose common name is its broker user
(`<user_prefix>obec-<ičo>`); the broker (rabbitmq_auth_mechanism_ssl,
`ssl_cert_login_from = common_name`) logs the agent in as that user with the
EXTERNAL mechanism. Rotation issues a new certificate while the old one stays
valid until it expires (the overlap: the agent switches at its next connection).
Revocation deletes the broker user: its connections end and no certificate
with that common name logs in any more.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from spisync.errors import SpisyncError
from spisync.files import write_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from hub.config import HubConfig

__all__ = [
    "AGENT_CERT_DAYS",
    "RENEW_BEFORE_DAYS",
    "AgentTlsFiles",
    "CertificateAuthority",
    "IssuedCert",
    "TlsError",
    "ca_dir",
    "cert_expires",
    "init_ca",
    "load_ca",
    "write_agent_tls",
]

AGENT_CERT_DAYS = 730
"""An agent's certificate is valid two years: a town hall is visited rarely."""
RENEW_BEFORE_DAYS = 60
"""`provision-agent --tls` issues a new certificate when the old one expires within this."""
_CA_DAYS = 20 * 365


class TlsError(SpisyncError):
    """The CA is missing, exists already, or cannot be read; the message says what to do."""


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and its key, PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes
    not_after: dt.datetime


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class CertificateAuthority:
    """The ORP's CA: signs agent and broker certificates.

    Args:
        cert: The CA certificate.
        key: Its private key.
    """

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self._key = key

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, PEM (what `ca_file` points at)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def _issue(
        self,
        common_name: str,
        *,
        days: float,
        usage: x509.ObjectIdentifier,
        names: list[x509.GeneralName],
        not_before: dt.datetime | None = None,
    ) -> IssuedCert:
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        end = start + dt.timedelta(days=days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), end)

    def issue_client(
        self, username: str, *, days: float = AGENT_CERT_DAYS, not_before: dt.datetime | None = None
    ) -> IssuedCert:
        """Issue a client certificate whose common name is the broker user `username`."""
        return self._issue(
            username,
            days=days,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            names=[],
            not_before=not_before,
        )

    def issue_server(self, host: str, *, days: float = 825) -> IssuedCert:
        """Issue the broker's server certificate for `host` (a DNS name or an IP address)."""
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host)
        return self._issue(host, days=days, usage=ExtendedKeyUsageOID.SERVER_AUTH, names=[name])


def _ca_paths(ca_dir: Path) -> tuple[Path, Path]:
    return ca_dir / "ca.pem", ca_dir / "ca.key"


def init_ca(ca_dir: Path, name: str) -> CertificateAuthority:
    """Create a new CA in `ca_dir` (`ca.pem`, `ca.key` mode 0600).

    Raises:
        TlsError: If a CA exists there already (it is never replaced silently).
    """
    cert_path, key_path = _ca_paths(ca_dir)
    if cert_path.exists() or key_path.exists():
        raise TlsError(
            f"a CA exists already in {ca_dir}; replacing it would cut off every agent "
            "(move it away first if that is really meant)"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_atomically(key_path, _key_pem(key), mode=0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return CertificateAuthority(cert, key)


def load_ca(ca_dir: Path) -> CertificateAuthority:
    """Load the CA from `ca_dir`.

    Raises:
        TlsError: If there is none (with the command that creates it) or it is unreadable.
    """
    cert_path, key_path = _ca_paths(ca_dir)
    if not cert_path.exists() or not key_path.exists():
        raise TlsError(f"no CA in {ca_dir}; create it with `spisync hub ca init --config HUB.toml`")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise TlsError(f"the CA in {ca_dir} cannot be read: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TlsError(f"{key_path} is not the EC key spisync created")
    return CertificateAuthority(cert, key)


def cert_expires(path: Path) -> dt.datetime | None:
    """Return when the PEM certificate at `path` expires, None if there is none."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc


def ca_dir(config: HubConfig) -> Path:
    """Where the hub keeps its CA: `<data_dir>/ca`."""
    return config.hub.data_path / "ca"


@dataclass(frozen=True)
class AgentTlsFiles:
    """An agent's TLS files: where they were written and where its AGENT.toml expects them.

    Attributes:
        ca_file: The ORP's CA certificate, as the agent's config names it.
        cert_file: The agent's certificate, as the agent's config names it.
        key_file: Its private key, as the agent's config names it.
        issued: Whether a new certificate was issued this time.
        not_after: When the agent's certificate expires.
    """

    ca_file: str
    cert_file: str
    key_file: str
    issued: bool
    not_after: dt.datetime


def write_agent_tls(
    config: HubConfig, *, ico: str, username: str, out: Path, tls_dir: str, rotate: bool
) -> AgentTlsFiles:
    """Write obec `ico`'s key, certificate and the CA next to `out`; issue only when needed.

    A certificate is issued when there is none, when `rotate` asks, or when the
    current one expires within `RENEW_BEFORE_DAYS`. The old certificate stays
    valid until it expires, so the running agent keeps working until it picks up
    the new files (the overlap).

    Args:
        config: The hub's configuration (for its CA).
        ico: The obec.
        username: The broker user, the certificate's common name.
        out: The AGENT.toml being written; the files go into its folder.
        tls_dir: Where the files will be at the town hall (named in AGENT.toml).
        rotate: Issue a new certificate even if the current one is good.

    Raises:
        TlsError: If the hub has no CA yet.
    """
    authority = load_ca(ca_dir(config))
    folder = out.parent
    cert_path, key_path = folder / f"{ico}.crt", folder / f"{ico}.key"
    expires = cert_expires(cert_path)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=RENEW_BEFORE_DAYS)
    issued = rotate or expires is None or expires < soon
    if issued:
        cert = authority.issue_client(username)
        write_atomically(key_path, cert.key_pem, mode=0o600)
        write_atomically(cert_path, cert.cert_pem, mode=0o644)
        expires = cert.not_after
    write_atomically(folder / "orp-ca.pem", authority.cert_pem, mode=0o644)
    assert expires is not None
    base = tls_dir.rstrip("/\\")
    return AgentTlsFiles(
        ca_file=f"{base}/orp-ca.pem",
        cert_file=f"{base}/{ico}.crt",
        key_file=f"{base}/{ico}.key",
        issued=issued,
        not_after=expires,
    )
