"""The client certificate of a PSP connection, read from what an administrator uploads.

PSPs hand out the certificate for mutual TLS either as PEM (certificate and private key, in
one file or two) or as PKCS#12 (``.p12``/``.pfx``, protected by a password). Both become
what ``requests`` needs: the certificate chain and an unencrypted PKCS#8 private key, in PEM.

Problems are raised as :class:`CertificateError` with a ``code`` (the caller words it for
people, naming the field) and, when a PKCS#12 or an encrypted key cannot be opened, the
``field`` that is wrong (``password``).
"""

import datetime
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

# why a certificate upload is refused
NO_CERTIFICATE = "no_certificate"  # no certificate in the file
NO_KEY = "no_key"  # no private key in the files
KEY_MISMATCH = "key_mismatch"  # the key is not the certificate's
WRONG_PASSWORD = "wrong_password"  # PKCS#12 or encrypted key: password wrong or missing
UNREADABLE = "unreadable"  # neither PEM nor PKCS#12

_CERT_BLOCK_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.+?-----END CERTIFICATE-----", re.DOTALL
)
_KEY_BLOCK_RE = re.compile(
    rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?)PRIVATE KEY-----\s.+?-----END \1PRIVATE KEY-----",
    re.DOTALL,
)


class CertificateError(ValueError):
    """An upload that cannot be used; ``code`` says why (module constants)."""

    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class ClientCertificate:
    certificate_pem: str  # the certificate first, then the rest of the chain
    key_pem: str  # PKCS#8, unencrypted
    subject: str
    issuer: str
    not_after: datetime.datetime  # naive UTC


def _public_bytes(key):
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_pem_key(data, password):
    match = _KEY_BLOCK_RE.search(data)
    if not match:
        return None
    try:
        return serialization.load_pem_private_key(
            match.group(0), password.encode() if password else None
        )
    except TypeError as exc:  # encrypted without a password, or a password for a clear key
        if password:
            return serialization.load_pem_private_key(match.group(0), None)
        raise CertificateError(WRONG_PASSWORD, str(exc)) from exc
    except ValueError as exc:
        raise CertificateError(WRONG_PASSWORD if password else UNREADABLE, str(exc)) from exc


def _load_pem(data, key_data, password):
    certificates = []
    for block in _CERT_BLOCK_RE.findall(data):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise CertificateError(UNREADABLE, str(exc)) from exc
    if not certificates:
        raise CertificateError(NO_CERTIFICATE)
    key = _load_pem_key(key_data, password) if key_data else None
    if key is None:
        key = _load_pem_key(data, password)
    if key is None:
        raise CertificateError(NO_KEY)
    return key, certificates


def _load_pkcs12(data, password):
    if data[:1] != b"\x30":  # a PKCS#12 file is a DER SEQUENCE
        raise CertificateError(UNREADABLE)
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None
        )
    except (ValueError, TypeError) as exc:
        raise CertificateError(WRONG_PASSWORD, str(exc)) from exc
    if certificate is None:
        raise CertificateError(NO_CERTIFICATE)
    if key is None:
        raise CertificateError(NO_KEY)
    return key, [certificate, *(extra or [])]


def load_client_certificate(data, key_data=None, password=None):
    """The client certificate in ``data`` (PEM or PKCS#12 bytes), its private key taken
    from ``key_data`` (PEM) or from ``data``, ``password`` opening a PKCS#12 or an
    encrypted key. Raise :class:`CertificateError` when it cannot be used."""
    if not data:
        raise CertificateError(NO_CERTIFICATE)
    if b"-----BEGIN" in data:
        key, certificates = _load_pem(data, key_data, password)
    else:
        key, certificates = _load_pkcs12(data, password)
    public = _public_bytes(key)
    leaf = next((cert for cert in certificates if _public_bytes(cert) == public), None)
    if leaf is None:
        raise CertificateError(KEY_MISMATCH)
    chain = [leaf] + [cert for cert in certificates if cert is not leaf]
    return ClientCertificate(
        certificate_pem="".join(
            cert.public_bytes(serialization.Encoding.PEM).decode() for cert in chain
        ),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after,
    )


def load_certificates(data):
    """The certificates of a PEM bundle (a CA bundle); CertificateError when none."""
    blocks = _CERT_BLOCK_RE.findall(data or b"")
    if not blocks:
        raise CertificateError(NO_CERTIFICATE)
    try:
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as exc:
        raise CertificateError(UNREADABLE, str(exc)) from exc
