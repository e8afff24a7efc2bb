"""Client of the Sefin Nacional API (NFS-e Padrão Nacional).

- **Mutual TLS**: ``cert=(cert_file, key_file)`` and ``verify=ca_file or True`` are passed on
  every request, never set on a session only (``requests`` lets ``REQUESTS_CA_BUNDLE`` override
  a session's ``verify``).
- **Timeouts** (connect, read) on every request.
- **No blind resend** of ``POST /nfse``: when the answer is lost after the DPS was sent (read
  timeout, connection dropped), the DPS is looked up by its id (``GET /dps/{idDps}``); found,
  its NFS-e is read and returned; not found, :class:`SefinUnavailable` tells the caller it may
  send it again (looking it up first). A refusal naming a duplicate DPS is resolved the same way.
- **Errors**: a body ``erros[{Codigo, Descricao, Complemento}]`` becomes :class:`SefinError`;
  an outage (5xx, connection refused) becomes :class:`SefinUnavailable`, for the caller to
  retry later with back-off.
"""

from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from . import dps as dps_engine

# Anexo I: the DPS Id (series + number for one issuer) was already turned into an NFS-e
DUPLICATE_CODES = ("E0014",)


class SefinError(Exception):
    """The Sefin refused the request (status and its ``erros`` list)."""

    def __init__(self, status, errors):
        self.status = status
        self.errors = [
            {
                "Codigo": str(e.get("Codigo") or e.get("codigo") or ""),
                "Descricao": str(e.get("Descricao") or e.get("descricao") or ""),
                "Complemento": str(e.get("Complemento") or e.get("complemento") or ""),
            }
            for e in errors or ()
            if isinstance(e, dict)
        ]
        super().__init__(str(self))

    @property
    def codes(self):
        return [e["Codigo"] for e in self.errors]

    def __str__(self):
        parts = []
        for error in self.errors:
            text = f"{error['Codigo']}: {error['Descricao']}".strip(": ")
            if error["Complemento"]:
                text = f"{text} ({error['Complemento']})"
            parts.append(text)
        return f"Sefin Nacional refused (HTTP {self.status}): " + (
            "; ".join(parts) or "no reason given"
        )


class SefinUnavailable(Exception):
    """The Sefin could not be reached or answered an outage; ``sent`` tells whether the request
    may have reached it (then look the DPS up before sending it again)."""

    def __init__(self, message, status=None, sent=False):
        self.status = status
        self.sent = sent
        super().__init__(message)


@dataclass
class SefinConnection:
    base_url: str
    cert_file: str
    key_file: str
    ca_file: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0


@dataclass
class Issued:
    """An NFS-e the Sefin holds for a DPS; ``recovered`` when found by a look-up after a lost
    answer or a duplicate refusal rather than by the send's own answer."""

    access_key: str
    dps_id: str
    nfse_xml: bytes
    alerts: list = field(default_factory=list)
    recovered: bool = False
    answer: dict = field(default_factory=dict)


class SefinClient:
    def __init__(self, connection, session=None):
        self.connection = connection
        self.session = session or requests.Session()

    # -- transport -----------------------------------------------------------------

    def _url(self, path):
        return self.connection.base_url.rstrip("/") + path

    def _send(self, method, path, body=None):
        c = self.connection
        return self.session.request(
            method,
            self._url(path),
            json=body,
            cert=(c.cert_file, c.key_file),
            verify=c.ca_file or True,
            timeout=(c.connect_timeout, c.read_timeout),
            headers={"Accept": "application/json"},
        )

    def _request(self, method, path, body=None):
        """The response, or :class:`SefinUnavailable` (``sent`` when it may have arrived)."""
        try:
            response = self._send(method, path, body)
        except requests.exceptions.ConnectTimeout as exc:
            raise SefinUnavailable(f"Sefin Nacional: no connection ({exc})") from exc
        except requests.exceptions.SSLError as exc:
            raise SefinUnavailable(f"Sefin Nacional: TLS handshake failed ({exc})") from exc
        except requests.exceptions.ConnectionError as exc:
            # refused before sending, or dropped after sending: only the former is certain
            sent = not _refused(exc)
            raise SefinUnavailable(f"Sefin Nacional: connection lost ({exc})", sent=sent) from exc
        except requests.exceptions.Timeout as exc:
            raise SefinUnavailable(f"Sefin Nacional: no answer ({exc})", sent=True) from exc
        if response.status_code >= 500 and not _error_list(response):
            raise SefinUnavailable(
                f"Sefin Nacional unavailable (HTTP {response.status_code})",
                status=response.status_code,
                sent=True,
            )
        return response

    @staticmethod
    def _raise_for(response):
        errors = _error_list(response)
        if response.status_code >= 500:
            raise SefinUnavailable(
                str(SefinError(response.status_code, errors)),
                status=response.status_code,
                sent=True,
            )
        raise SefinError(response.status_code, errors)

    # -- the API ---------------------------------------------------------------------

    def issue(self, prepared, look_up_first=False):
        """Send a prepared DPS (``dps.Prepared``) and answer its :class:`Issued` NFS-e.

        ``look_up_first``: the DPS may have been sent before (a retry after a lost answer);
        look it up and send it only when the Sefin does not have it.
        """
        if look_up_first:
            found = self.find_dps(prepared.id)
            if found:
                return self._recover(prepared.id, found)
        try:
            response = self._request("POST", "/nfse", {"dpsXmlGZipB64": prepared.payload})
        except SefinUnavailable as exc:
            if not exc.sent:
                raise
            found = self.find_dps(prepared.id)
            if not found:
                raise SefinUnavailable(
                    f"{exc} — the DPS {prepared.id} is not at the Sefin: it can be sent again",
                    status=exc.status,
                ) from exc
            return self._recover(prepared.id, found)
        if response.status_code in (200, 201):
            body = response.json()
            return Issued(
                access_key=body["chaveAcesso"],
                dps_id=body.get("idDps") or body.get("idDPS") or prepared.id,
                nfse_xml=dps_engine.unpack(body["nfseXmlGZipB64"]),
                alerts=body.get("alertas") or [],
                answer=body,
            )
        error = SefinError(response.status_code, _error_list(response))
        if any(code in DUPLICATE_CODES for code in error.codes):
            found = self.find_dps(prepared.id)
            if found:
                return self._recover(prepared.id, found)
        self._raise_for(response)

    def _recover(self, dps_id, access_key):
        body = self.get_nfse(access_key)
        return Issued(
            access_key=access_key,
            dps_id=dps_id,
            nfse_xml=dps_engine.unpack(body["nfseXmlGZipB64"]),
            recovered=True,
            answer=body,
        )

    def find_dps(self, dps_id):
        """The access key of the NFS-e issued for ``dps_id``, or None (``GET /dps/{id}``)."""
        response = self._request("GET", f"/dps/{quote(dps_id)}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._raise_for(response)
        return response.json()["chaveAcesso"]

    def dps_exists(self, dps_id):
        """``HEAD /dps/{id}``: whether the DPS was turned into an NFS-e."""
        response = self._request("HEAD", f"/dps/{quote(dps_id)}")
        if response.status_code in (200, 404):
            return response.status_code == 200
        raise SefinError(response.status_code, [])

    def get_nfse(self, access_key):
        response = self._request("GET", f"/nfse/{quote(access_key)}")
        if response.status_code != 200:
            self._raise_for(response)
        return response.json()

    def nfse_xml(self, access_key):
        return dps_engine.unpack(self.get_nfse(access_key)["nfseXmlGZipB64"])

    def get_event(self, access_key, kind, sequence=1):
        """``GET /nfse/{chave}/eventos/{tipoEvento}/{numSeqEvento}``: the event XML (for
        example the e105102 the Sefin registers on an NFS-e replaced by another)."""
        response = self._request(
            "GET", f"/nfse/{quote(access_key)}/eventos/{quote(kind)}/{int(sequence)}"
        )
        if response.status_code != 200:
            self._raise_for(response)
        return dps_engine.unpack(response.json()["eventoXmlGZipB64"])

    def send_event(self, access_key, prepared):
        """``POST /nfse/{chave}/eventos`` with a prepared pedRegEvento; answers the event XML."""
        response = self._request(
            "POST",
            f"/nfse/{quote(access_key)}/eventos",
            {"pedidoRegistroEventoXmlGZipB64": prepared.payload},
        )
        if response.status_code not in (200, 201):
            self._raise_for(response)
        body = response.json()
        return dps_engine.unpack(body["eventoXmlGZipB64"]), body


def _refused(exc):
    text = repr(exc)
    return "Connection refused" in text or "NewConnectionError" in text


def _error_list(response):
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    errors = body.get("erros") or body.get("Erros") or []
    return errors if isinstance(errors, list) else []
