"""The issuer's A1 certificate (ICP-Brasil, PKCS#12 file and its password).

An e-CNPJ certificate names the company's CNPJ in its subjectAltName, as an ``otherName`` of
type 2.16.76.1.3.3 (DOC-ICP-04, "Requisitos mínimos para as políticas de certificado na
ICP-Brasil", item 7.1.2.3); its common name is written ``NAME:CNPJ`` by the Brazilian CAs.
Both places are read, the subjectAltName first.
"""

import datetime
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

ICP_BRASIL_CNPJ_OID = x509.ObjectIdentifier("2.16.76.1.3.3")
_DIGITS14 = re.compile(rb"(?<!\d)\d{14}(?!\d)")


class CertificateError(ValueError):
    """The PKCS#12 cannot be opened or is not usable (the message says why)."""


@dataclass
class A1Certificate:
    key: object  # the private key (cryptography)
    certificate: x509.Certificate
    subject: str
    cnpj: str | None
    not_after: datetime.datetime  # UTC, aware

    @property
    def cert_pem(self):
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self):
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def expired(self, now=None):
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return now >= self.not_after

    def days_left(self, today=None):
        today = today or datetime.datetime.now(datetime.timezone.utc).date()
        return (self.not_after.date() - today).days


def _not_after(certificate):
    value = getattr(certificate, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42: naive UTC
        value = certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def cnpj_of(certificate):
    """The CNPJ the certificate was issued to, or None."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        names = None
    if names is not None:
        for other in names.value.get_values_for_type(x509.OtherName):
            if other.type_id == ICP_BRASIL_CNPJ_OID:
                found = _DIGITS14.search(other.value)
                if found:
                    return found.group().decode()
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        found = re.search(r":(\d{14})$", attribute.value)
        if found:
            return found.group(1)
    return None


def load_pkcs12(data, password):
    """Open an A1 certificate; ``password`` is text or bytes."""
    if isinstance(password, str):
        password = password.encode()
    try:
        key, certificate, _chain = pkcs12.load_key_and_certificates(data, password or None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(
            "The certificate file could not be opened: wrong password or not a PKCS#12 file."
        ) from exc
    if key is None or certificate is None:
        raise CertificateError("The PKCS#12 file holds no private key and certificate.")
    return A1Certificate(
        key=key,
        certificate=certificate,
        subject=certificate.subject.rfc4514_string(),
        cnpj=cnpj_of(certificate),
        not_after=_not_after(certificate),
    )
