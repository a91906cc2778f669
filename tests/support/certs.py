"""A test PKI made with `cryptography`: CA, server and client certificates, and the awkward cases.

`make_pki(directory)` returns a `PKI` whose entries hold PEM strings and the paths of the files written
into `directory`. The `pki` fixture (tests/support/brokers.py) makes one per test session. EC P-256 keys
keep it fast; one RSA 2048 key exists for the PKCS#1 case.

    ctx = pki.client_context()                  # trusts the test CA
    ctx = pki.client_context(pki.client)        # ... and presents the client certificate
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_PASSWORD = "test-key-password"
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class CertKey:
    """A certificate and its private key, as PEM text and as files."""

    cert_pem: str
    key_pem: str
    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class PKI:
    directory: Path
    ca: CertKey
    server: CertKey
    """Signed by `ca`, valid for localhost, 127.0.0.1 and ::1."""
    client: CertKey
    """Signed by `ca`, common name `client.name`; PKCS#8 key (-----BEGIN PRIVATE KEY-----)."""
    client_ec_sec1: CertKey
    """The client certificate with its key in SEC1 form (-----BEGIN EC PRIVATE KEY-----)."""
    client_encrypted: CertKey
    """The client certificate with its key as encrypted PKCS#8; the password is `KEY_PASSWORD`."""
    client_rsa_pkcs1: CertKey
    """A client certificate for an RSA 2048 key in PKCS#1 form (-----BEGIN RSA PRIVATE KEY-----)."""
    expired: CertKey
    """Signed by `ca`, valid for the server names and as a client, but expired yesterday."""
    not_yet_valid: CertKey
    """Signed by `ca`, valid from tomorrow."""
    wrong_ca: CertKey
    """An unrelated CA."""
    wrong_ca_client: CertKey
    """A client certificate signed by `wrong_ca`."""
    wrong_host_server: CertKey
    """Signed by `ca` for wrong.example.com only."""
    client_name: str = "flowhost-test-client"

    def client_context(
        self, client: CertKey | None = None, *, ca: CertKey | None = None, password: str | None = None
    ) -> ssl.SSLContext:
        """A client-side SSLContext trusting `ca` (default: the test CA), presenting `client` if given."""
        context = ssl.create_default_context(cafile=str((ca or self.ca).cert_path))
        if client is not None:
            context.load_cert_chain(str(client.cert_path), str(client.key_path), password=password)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _certificate(
    subject: str,
    key,
    issuer: tuple[x509.Certificate, object] | None,
    *,
    is_ca: bool = False,
    names: tuple[str, ...] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(hours=1))
        .not_valid_after(not_after or now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False
        )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    if names:
        builder = builder.add_extension(_san(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key, form: str = "pkcs8", password: str | None = None) -> str:
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, formats[form], encryption).decode()


def _write(directory: Path, name: str, cert_pem: str, key_pem: str) -> CertKey:
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_text(cert_pem)
    key_path.write_text(key_pem)
    key_path.chmod(0o600)
    return CertKey(cert_pem, key_pem, cert_path, key_path)


def make_pki(directory: Path) -> PKI:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def ec_key():
        return ec.generate_private_key(ec.SECP256R1())

    ca_key = ec_key()
    ca_cert = _certificate("flowhost test CA", ca_key, None, is_ca=True)
    ca = (ca_cert, ca_key)

    def signed(subject: str, key=None, **kwargs) -> tuple[x509.Certificate, object]:
        key = key or ec_key()
        return _certificate(subject, key, ca, **kwargs), key

    server_cert, server_key = signed("localhost", names=SERVER_NAMES)
    client_cert, client_key = signed("flowhost-test-client")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_cert, _ = signed("flowhost-test-client-rsa", key=rsa_key)
    expired_cert, expired_key = signed(
        "localhost",
        names=SERVER_NAMES,
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    future_cert, future_key = signed(
        "localhost",
        names=SERVER_NAMES,
        not_before=now + dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
    )
    wrong_host_cert, wrong_host_key = signed("wrong.example.com", names=("wrong.example.com",))
    wrong_ca_key = ec_key()
    wrong_ca_cert = _certificate("unrelated test CA", wrong_ca_key, None, is_ca=True)
    wrong_client_key = ec_key()
    wrong_client_cert = _certificate("flowhost-test-client", wrong_client_key, (wrong_ca_cert, wrong_ca_key))

    return PKI(
        directory=directory,
        ca=_write(directory, "ca", _pem(ca_cert), _key_pem(ca_key)),
        server=_write(directory, "server", _pem(server_cert), _key_pem(server_key)),
        client=_write(directory, "client", _pem(client_cert), _key_pem(client_key)),
        client_ec_sec1=_write(directory, "client-sec1", _pem(client_cert), _key_pem(client_key, "traditional")),
        client_encrypted=_write(
            directory, "client-encrypted", _pem(client_cert), _key_pem(client_key, password=KEY_PASSWORD)
        ),
        client_rsa_pkcs1=_write(directory, "client-rsa", _pem(rsa_cert), _key_pem(rsa_key, "traditional")),
        expired=_write(directory, "expired", _pem(expired_cert), _key_pem(expired_key)),
        not_yet_valid=_write(directory, "not-yet-valid", _pem(future_cert), _key_pem(future_key)),
        wrong_ca=_write(directory, "wrong-ca", _pem(wrong_ca_cert), _key_pem(wrong_ca_key)),
        wrong_ca_client=_write(directory, "wrong-ca-client", _pem(wrong_client_cert), _key_pem(wrong_client_key)),
        wrong_host_server=_write(directory, "wrong-host", _pem(wrong_host_cert), _key_pem(wrong_host_key)),
    )
