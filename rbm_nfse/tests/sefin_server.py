"""A local Sefin Nacional (NFS-e Padrão Nacional, layout 1.01) for tests.

No Odoo import: plain pytest loads this file as ``rbm_nfse_sefin_server`` (``tests/conftest.py``)
and Odoo tests import it as ``odoo.addons.rbm_nfse.tests.sefin_server``.

- HTTPS with mutual TLS: :func:`make_pki` generates a CA, a server certificate and an e-CNPJ-like
  client certificate (RSA, the CNPJ in the subjectAltName otherName 2.16.76.1.3.3 and in the
  CN ``NAME:CNPJ``, also as PKCS#12); a connection without a client certificate of that CA is
  refused at the handshake.
- ``POST /nfse``: the DPS (gzip + base64) is checked against ``DPS_v1.01.xsd`` and its
  ``versao`` (RNG6110), its signature against the TLS client certificate's key (E0714), its
  ``dhEmi`` not in the future (E0008), its ``cTribNac`` against :attr:`unknown_service_codes`
  (E0312) and its Id against the DPS already turned into NFS-e (duplicate: the error names the
  existing access key); then an NFS-e is issued (valid against ``NFSe_v1.01.xsd``, signed by the
  server) with a 50-digit access key.
- ``GET /nfse/{chave}``, ``GET``/``HEAD /dps/{id}``, ``POST /nfse/{chave}/eventos`` (e101101
  cancellation, refused outside :attr:`cancel_window`), ``GET /nfse/{chave}/eventos/{tipo}/{n}``.
- Replacement: a DPS with the ``subst`` group issues the new NFS-e and, in the same step, the
  Sefin registers the event e105102 "Cancelamento de NFS-e por Substituição" on the replaced one
  (its ``chSubstituta`` is the new key); refused when the replaced NFS-e is unknown, already
  cancelled or replaced, of another issuer or another taker, or older than
  :attr:`replace_window`.
- Any documented refusal on demand: :meth:`SefinServer.refuse_next` answers the next request
  with the error body of a given code (what the Sefin sends for rules this server does not
  model).
- Failures on demand: :meth:`SefinServer.fail_next` (``status`` N times: an outage) and
  :meth:`SefinServer.drop_after_issue` (the NFS-e is issued, then the connection is closed
  without an answer: the client's read times out or sees it dropped).

Error codes: E0008, E0312, E0714 and RNG6110 are the Sefin's (Anexo I); ``DUPLICATE`` (E0014)
is the duplicate DPS as recalled from Anexo I (to check against its table); codes starting with
``X`` (not found, cancellation window, already cancelled, event key, outage) are this server's
own stand-ins.
"""

import base64
import datetime
import gzip
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

NS = "http://www.sped.fazenda.gov.br/nfse"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
N = f"{{{NS}}}"
CENT = Decimal("0.01")
BRASILIA = datetime.timezone(datetime.timedelta(hours=-3))
ICP_BRASIL_CNPJ_OID = x509.ObjectIdentifier("2.16.76.1.3.3")

SCHEMA_ERROR = "RNG6110"
FUTURE_DATE = "E0008"
UNKNOWN_SERVICE = "E0312"
BAD_SIGNATURE = "E0714"
DUPLICATE = "E0014"
NOT_FOUND = "X0404"
CANCEL_WINDOW = "X0101"
CANCELLED = "X0102"
EVENT_KEY = "X0103"
REPLACED_UNKNOWN = "X0201"
REPLACED_STATE = "X0202"
REPLACED_PARTY = "X0203"
REPLACE_WINDOW = "X0204"

CITIES = {
    "3550308": ("São Paulo", "SP"),
    "3304557": ("Rio de Janeiro", "RJ"),
    "3106200": ("Belo Horizonte", "MG"),
    "4106902": ("Curitiba", "PR"),
}
# LC 214/2025 art. 343 (2026): CBS 0.9%, IBS 0.1% (state part), municipal IBS 0
IBSCBS_2026 = {"CBS": Decimal("0.90"), "IBS_UF": Decimal("0.10"), "IBS_MUN": Decimal("0.00")}


# ---------------------------------------------------------------------------
# certificates
# ---------------------------------------------------------------------------


@dataclass
class Pki:
    directory: str
    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    client_p12: str
    client_p12_password: str
    cnpj: str


def _name(common_name):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ICP-Brasil RBM teste"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _octet_string(data):
    return bytes([0x04, len(data)]) + data


def _certificate(subject, key, issuer, issuer_key, not_before, not_after, kind, extra=()):
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=kind == "ca", path_length=None), critical=True)
    )
    if kind == "server":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        ).add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    elif kind == "client":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        if extra:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(extra)), critical=False
            )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_pki(
    directory=None,
    cnpj="11222333000181",
    company="RBM TESTE LTDA",
    days=365,
    client_not_after=None,
    password="a1-teste",
):
    """A CA, a server certificate and an e-CNPJ-like A1 client certificate (PEM and PKCS#12)."""
    folder = Path(directory or tempfile.mkdtemp(prefix="sefin-pki-"))
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=2), now + datetime.timedelta(days=days)
    ca_key = rsa.generate_private_key(65537, 2048)
    ca_cert = _certificate("RBM AC Teste", ca_key, "RBM AC Teste", ca_key, start, end, "ca")
    server_key = rsa.generate_private_key(65537, 2048)
    server_cert = _certificate(
        "localhost", server_key, "RBM AC Teste", ca_key, start, end, "server"
    )
    client_key = rsa.generate_private_key(65537, 2048)
    client_end = client_not_after or end
    client_cert = _certificate(
        f"{company}:{cnpj}",
        client_key,
        "RBM AC Teste",
        ca_key,
        min(start, client_end - datetime.timedelta(days=1)),
        client_end,
        "client",
        extra=[x509.OtherName(ICP_BRASIL_CNPJ_OID, _octet_string(cnpj.encode()))],
    )
    paths = {}
    for label, cert, key in (
        ("ca", ca_cert, ca_key),
        ("server", server_cert, server_key),
        ("client", client_cert, client_key),
    ):
        cert_path, key_path = folder / f"{label}.crt", folder / f"{label}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        paths[label] = (str(cert_path), str(key_path))
    p12 = folder / "client.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            company.encode(),
            client_key,
            client_cert,
            None,
            serialization.BestAvailableEncryption(password.encode()),
        )
    )
    return Pki(
        directory=str(folder),
        ca_cert=paths["ca"][0],
        ca_key=paths["ca"][1],
        server_cert=paths["server"][0],
        server_key=paths["server"][1],
        client_cert=paths["client"][0],
        client_key=paths["client"][1],
        client_p12=str(p12),
        client_p12_password=password,
        cnpj=cnpj,
    )


# ---------------------------------------------------------------------------
# XML helpers
# ---------------------------------------------------------------------------


def schema_folder():
    import nfelib  # noqa: PLC0415

    return Path(nfelib.__file__).resolve().parent / "nfse" / "schemas" / "v1_0"


_SCHEMAS = {}
_SCHEMA_LOCK = threading.Lock()


def schema_errors(root, filename):
    with _SCHEMA_LOCK:
        if filename not in _SCHEMAS:
            _SCHEMAS[filename] = etree.XMLSchema(etree.parse(str(schema_folder() / filename)))
        schema = _SCHEMAS[filename]
        if schema.validate(root):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]


def pack(xml):
    return base64.b64encode(gzip.compress(xml)).decode("ascii")


def unpack(text):
    return gzip.decompress(base64.b64decode(text, validate=True))


def verify_signature(xml, cert_pem):
    """The element the root's own signature covers, verified against ``cert_pem``."""
    config = SignatureConfiguration(location="./")
    result = XMLVerifier().verify(xml, x509_cert=cert_pem, expect_config=config)
    return result.signed_xml


def _money(value):
    return f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def _sub(parent, tag, text=None):
    element = etree.SubElement(parent, N + tag)
    if text is not None:
        element.text = str(text)
    return element


def _text(element, path, default=""):
    found = element.find(path.replace("n:", N))
    return found.text if found is not None and found.text is not None else default


def access_key_check_digit(digits):
    """Módulo 11 (weights 2..9 from the right) of the key's first 49 digits."""
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(digits)))
    rest = total % 11
    return "0" if rest < 2 else str(11 - rest)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, context, sefin):
        self.context = context
        self.sefin = sefin
        super().__init__(address, handler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), (
            address
        )

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.sefin.handshake_failures.append(str(exc))
            return
        with self.sefin.lock:
            self.sefin.handshakes += 1
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RBMTestSefin/1.0"

    def log_message(self, format, *args):
        pass

    def _any(self):
        self.server.sefin._handle(self)

    do_GET = do_POST = do_HEAD = _any

    def reply(self, status, payload=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass


class _Refusal(Exception):
    def __init__(self, status, code, description, complement=""):
        self.status = status
        self.code = code
        self.description = description
        self.complement = complement
        super().__init__(f"{code}: {description}")


# ---------------------------------------------------------------------------
# the Sefin
# ---------------------------------------------------------------------------


class SefinServer:
    """One national environment: the NFS-e it issued, by access key and by DPS Id."""

    def __init__(
        self,
        pki=None,
        now=None,
        environment="2",
        unknown_service_codes=(),
        cancel_window=datetime.timedelta(days=30),
        municipal_iss_rate=Decimal("2.00"),
        replace_window=datetime.timedelta(days=30),
    ):
        self.pki = pki
        self._now = now
        self.environment = environment
        self.unknown_service_codes = set(unknown_service_codes)
        self.cancel_window = cancel_window
        self.replace_window = replace_window
        self._refusals_next = []
        self._stalls = []
        self.municipal_iss_rate = Decimal(municipal_iss_rate)
        self.lock = threading.RLock()
        self.nfse = {}  # access key -> dict
        self.by_dps = {}  # DPS Id -> access key
        self.events = []
        self.requests = []
        self.refusals = []
        self.duplicates = []
        self.handshake_failures = []
        self.handshakes = 0  # TLS connections accepted
        self._outages = []
        self._drops = 0
        self._sequence = 0
        self._server_cert = None
        self._server_key = None
        self._httpd = None
        self._thread = None
        self.port = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self):
        if self.pki is None:
            self.pki = make_pki()
        self._server_cert = Path(self.pki.server_cert).read_text()
        self._server_key = Path(self.pki.server_key).read_bytes()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        context.load_verify_locations(self.pki.ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED
        self._httpd = _TLSServer(("127.0.0.1", 0), _Handler, context, self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return f"https://127.0.0.1:{self.port}"

    # -- clock and failures -----------------------------------------------------------

    def now(self):
        moment = self._now() if callable(self._now) else self._now
        return (moment or datetime.datetime.now(datetime.timezone.utc)).astimezone(BRASILIA)

    def set_now(self, moment):
        self._now = moment

    def fail_next(self, times=1, status=503, path_regex=r"."):
        """Answer the next ``times`` requests matching ``path_regex`` with ``status`` (an
        outage; the request is not processed)."""
        with self.lock:
            self._outages.append({"times": times, "status": status, "re": re.compile(path_regex)})

    def refuse_next(self, code, description, complement="", status=400, path_regex=r"^/nfse$"):
        """Answer the next request matching ``path_regex`` with the error body of ``code``
        (``erros[{Codigo, Descricao, Complemento}]``), as the Sefin refuses a DPS."""
        with self.lock:
            self._refusals_next.append(
                (re.compile(path_regex), status, code, description, complement)
            )

    def _refusal_due(self, path):
        with self.lock:
            for index, (regex, *refusal) in enumerate(self._refusals_next):
                if regex.search(path):
                    del self._refusals_next[index]
                    return refusal
        return None

    def stall_next(self, seconds, times=1, path_regex=r"^/nfse$"):
        """Hold the next ``times`` requests matching ``path_regex`` for ``seconds``, then
        close the connection without processing them (a Sefin that hangs: the client's read
        times out and nothing was issued)."""
        with self.lock:
            self._stalls.append({"times": times, "seconds": seconds, "re": re.compile(path_regex)})

    def _stall(self, path):
        with self.lock:
            for stall in self._stalls:
                if stall["times"] > 0 and stall["re"].search(path):
                    stall["times"] -= 1
                    return stall["seconds"]
        return None

    def drop_after_issue(self, times=1):
        """Issue the next ``times`` NFS-e, then close the connection without answering."""
        with self.lock:
            self._drops += times

    def _outage(self, path):
        with self.lock:
            for outage in self._outages:
                if outage["times"] > 0 and outage["re"].search(path):
                    outage["times"] -= 1
                    return outage["status"]
        return None

    # -- dispatch ---------------------------------------------------------------------

    def _handle(self, handler):
        path = unquote(urlsplit(handler.path).path).rstrip("/")
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((handler.command, path))
        stall = self._stall(path)
        if stall:
            time.sleep(stall)
            handler.drop()
            return
        status = self._outage(path)
        if status:
            # 5xx: an outage; 401/403: the gateway refuses the caller, no error list
            bare = status >= 500 or status in (401, 403)
            handler.reply(status, None if bare else self._errors("X0503", "outage"))
            return
        peer = handler.connection.getpeercert(binary_form=True)
        try:
            refusal = self._refusal_due(path)
            if refusal:
                raise _Refusal(*refusal)
            if handler.command == "POST" and path == "/nfse":
                self._post_nfse(handler, raw, peer)
            elif handler.command == "POST" and re.fullmatch(r"/nfse/\d{50}/eventos", path):
                self._post_event(handler, path.split("/")[2], raw, peer)
            elif handler.command == "GET" and re.fullmatch(r"/nfse/\d{50}/eventos/\d{6}/\d+", path):
                parts = path.split("/")
                self._get_event(handler, parts[2], parts[4], int(parts[5]))
            elif handler.command == "GET" and re.fullmatch(r"/nfse/[^/]+", path):
                self._get_nfse(handler, path.split("/")[2])
            elif handler.command in ("GET", "HEAD") and re.fullmatch(r"/dps/[^/]+", path):
                self._get_dps(handler, path.split("/")[2])
            else:
                handler.reply(404, self._errors(NOT_FOUND, "Recurso não encontrado", path))
        except _Refusal as refusal:
            with self.lock:
                self.refusals.append(refusal.code)
            handler.reply(
                refusal.status,
                self._errors(refusal.code, refusal.description, refusal.complement),
            )

    def _stamp(self):
        return self.now().replace(microsecond=0).isoformat()

    def _errors(self, code, description, complement=""):
        return {
            "tipoAmbiente": int(self.environment),
            "versaoAplicativo": "RBMTestSefin-1.0",
            "dataHoraProcessamento": self._stamp(),
            "erros": [{"Codigo": code, "Descricao": description, "Complemento": complement}],
        }

    # -- POST /nfse ---------------------------------------------------------------------

    def _document(self, raw, field, schema):
        try:
            body = json.loads(raw or b"{}")
            xml = unpack(body[field])
            root = etree.fromstring(xml)
        except (ValueError, KeyError, TypeError, OSError, etree.XMLSyntaxError) as exc:
            raise _Refusal(400, SCHEMA_ERROR, "Falha no esquema XML", str(exc)) from exc
        errors = schema_errors(root, schema)
        if root.get("versao") != "1.01":
            errors.insert(0, f"versao={root.get('versao')!r}: o leiaute aceito é 1.01")
        if errors:
            raise _Refusal(400, SCHEMA_ERROR, "Falha no esquema XML", "; ".join(errors))
        return xml, root

    def _check_signature(self, xml, peer, reference_id):
        cert_pem = x509.load_der_x509_certificate(peer).public_bytes(serialization.Encoding.PEM)
        try:
            signed = verify_signature(xml, cert_pem.decode())
        except (InvalidSignature, InvalidInput, ValueError) as exc:
            raise _Refusal(
                400, BAD_SIGNATURE, "Arquivo enviado com erro na assinatura", str(exc)
            ) from exc
        if signed.get("Id") != reference_id:
            raise _Refusal(400, BAD_SIGNATURE, "A assinatura não cobre o elemento com o Id")

    def _post_nfse(self, handler, raw, peer):
        xml, root = self._document(raw, "dpsXmlGZipB64", "DPS_v1.01.xsd")
        inf = root.find(N + "infDPS")
        dps_id = inf.get("Id")
        self._check_signature(xml, peer, dps_id)
        issued_at = datetime.datetime.fromisoformat(_text(inf, "n:dhEmi"))
        if issued_at > self.now():
            raise _Refusal(
                400, FUTURE_DATE, "Data de emissão da DPS posterior à data de processamento"
            )
        code = _text(inf, "n:serv/n:cServ/n:cTribNac")
        if code in self.unknown_service_codes:
            raise _Refusal(
                400,
                UNKNOWN_SERVICE,
                "Código de tributação nacional não administrado pelo município",
                code,
            )
        subst = inf.find(N + "subst")
        with self.lock:
            replaced = self._check_replacement(inf, subst) if subst is not None else None
            existing = self.by_dps.get(dps_id)
            if existing:
                self.duplicates.append(dps_id)
                raise _Refusal(
                    400,
                    DUPLICATE,
                    f"DPS {dps_id} já convertida na NFS-e de chave de acesso {existing}",
                    existing,
                )
            record = self._issue(root, inf, dps_id)
            if replaced:
                self._register_replacement(replaced, record, subst)
            drop = self._drops > 0
            if drop:
                self._drops -= 1
        if drop:
            handler.drop()
            return
        handler.reply(
            201,
            {
                "tipoAmbiente": int(self.environment),
                "versaoAplicativo": "RBMTestSefin-1.0",
                "dataHoraProcessamento": record["dhProc"],
                "idDps": dps_id,
                "chaveAcesso": record["chave"],
                "nfseXmlGZipB64": pack(record["xml"]),
                "alertas": record["alertas"],
            },
        )

    def _issue(self, dps_root, inf, dps_id):
        self._sequence += 1
        number = self._sequence
        now = self.now()
        prest = inf.find(N + "prest")
        document = _text(prest, "n:CNPJ") or _text(prest, "n:CPF")
        kind = "2" if len(document) == 14 else "1"
        city = _text(inf, "n:cLocEmi")
        body = (
            f"{city}{'2'}{kind}{document.zfill(14)}{number:013d}{now:%y%m}"
            f"{(number * 7919) % 10**9:09d}"
        )
        chave = body + access_key_check_digit(body)
        xml, alerts = self._nfse_xml(dps_root, inf, chave, number, now)
        record = {
            "chave": chave,
            "dps_id": dps_id,
            "number": number,
            "xml": xml,
            "dhProc": now.replace(microsecond=0).isoformat(),
            "issued_at": now,
            "cnpj": document,
            "taker": _text(inf, "n:toma/n:CNPJ") or _text(inf, "n:toma/n:CPF"),
            "cancelled": False,
            "replaced_by": None,
            "alertas": alerts,
        }
        self.nfse[chave] = record
        self.by_dps[dps_id] = chave
        return record

    def _nfse_xml(self, dps_root, inf, chave, number, now):
        city = _text(inf, "n:cLocEmi")
        city_name, uf = CITIES.get(city, (f"Município {city}", "SP"))
        values = inf.find(N + "valores")
        amount = Decimal(_text(values, "n:vServPrest/n:vServ"))
        trib = values.find(N + "trib")
        withheld = _text(trib, "n:tribMun/n:tpRetISSQN") == "2"
        rate = Decimal(_text(trib, "n:tribMun/n:pAliq") or self.municipal_iss_rate)
        regime = _text(inf, "n:prest/n:regTrib/n:opSimpNac")
        iss = Decimal(0) if regime == "2" else (amount * rate / 100).quantize(CENT, ROUND_HALF_UP)
        retained = sum(
            Decimal(_text(trib, f"n:tribFed/n:{tag}") or 0)
            for tag in ("vRetCP", "vRetIRRF", "vRetCSLL")
        ) + (iss if withheld else Decimal(0))
        root = etree.Element(N + "NFSe", nsmap={None: NS}, versao="1.01")
        info = _sub(root, "infNFSe")
        info.set("Id", f"NFS{chave}")
        _sub(info, "xLocEmi", city_name)
        _sub(info, "xLocPrestacao", city_name)
        _sub(info, "nNFSe", number)
        _sub(info, "cLocIncid", city)
        _sub(info, "xLocIncid", city_name)
        _sub(info, "xTribNac", f"Serviço {_text(inf, 'n:serv/n:cServ/n:cTribNac')}")
        _sub(info, "verAplic", "RBMTestSefin-1.0")
        _sub(info, "ambGer", "2")
        _sub(info, "tpEmis", "1")
        _sub(info, "procEmi", "1")
        _sub(info, "cStat", "100")
        _sub(info, "dhProc", now.replace(microsecond=0).isoformat())
        _sub(info, "nDFSe", number)
        emit = _sub(info, "emit")
        _sub(emit, "CNPJ", _text(inf, "n:prest/n:CNPJ"))
        if _text(inf, "n:prest/n:IM"):
            _sub(emit, "IM", _text(inf, "n:prest/n:IM"))
        _sub(emit, "xNome", "EMITENTE DE TESTE")
        address = _sub(emit, "enderNac")
        for tag, text in (
            ("xLgr", "Rua de Teste"),
            ("nro", "1"),
            ("xBairro", "Centro"),
            ("cMun", city),
            ("UF", uf),
            ("CEP", "01001000"),
        ):
            _sub(address, tag, text)
        totals = _sub(info, "valores")
        _sub(totals, "vBC", _money(amount))
        if regime != "2":
            _sub(totals, "pAliqAplic", f"{rate:.2f}")
            _sub(totals, "vISSQN", _money(iss))
        _sub(totals, "vTotalRet", _money(retained))
        _sub(totals, "vLiq", _money(amount - retained))
        alerts = []
        if inf.find(N + "IBSCBS") is not None:
            self._ibscbs(info, city, city_name, amount)
        else:
            alerts.append({"Codigo": "A0001", "Descricao": "Grupo IBSCBS não informado (2026)"})
        info.append(dps_root)
        signer = XMLSigner(
            signature_algorithm="rsa-sha256", digest_algorithm="sha256", c14n_algorithm=C14N
        )
        signer.namespaces = {None: DSIG}
        signed = signer.sign(
            root, key=self._server_key, cert=self._server_cert, reference_uri=f"#NFS{chave}"
        )
        errors = schema_errors(signed, "NFSe_v1.01.xsd")
        if errors:  # the server's own mistake: let the test see it
            raise _Refusal(500, "X0500", "NFS-e inválida no servidor de teste", "; ".join(errors))
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8"), alerts

    @staticmethod
    def _ibscbs(info, city, city_name, amount):
        rates = IBSCBS_2026
        cbs = (amount * rates["CBS"] / 100).quantize(CENT, ROUND_HALF_UP)
        ibs_uf = (amount * rates["IBS_UF"] / 100).quantize(CENT, ROUND_HALF_UP)
        ibs_mun = (amount * rates["IBS_MUN"] / 100).quantize(CENT, ROUND_HALF_UP)
        group = _sub(info, "IBSCBS")
        _sub(group, "cLocalidadeIncid", city)
        _sub(group, "xLocalidadeIncid", city_name)
        values = _sub(group, "valores")
        _sub(values, "vBC", _money(amount))
        for tag, name, rate in (
            ("uf", "UF", rates["IBS_UF"]),
            ("mun", "Mun", rates["IBS_MUN"]),
            ("fed", "CBS", rates["CBS"]),
        ):
            part = _sub(values, tag)
            prefix = "p" if tag == "fed" else "pIBS"
            _sub(part, f"{prefix}{name}" if tag != "fed" else "pCBS", f"{rate:.2f}")
            _sub(part, f"pAliqEfet{name}", f"{rate:.2f}")
        total = _sub(group, "totCIBS")
        _sub(total, "vTotNF", _money(amount + cbs + ibs_uf + ibs_mun))
        ibs = _sub(total, "gIBS")
        _sub(ibs, "vIBSTot", _money(ibs_uf + ibs_mun))
        _sub(_sub(ibs, "gIBSUFTot"), "vIBSUF", _money(ibs_uf))
        _sub(_sub(ibs, "gIBSMunTot"), "vIBSMun", _money(ibs_mun))
        _sub(_sub(total, "gCBS"), "vCBS", _money(cbs))

    # -- replacement -------------------------------------------------------------------

    def _check_replacement(self, inf, subst):
        """The replaced NFS-e's record, or a refusal: it must exist, be neither cancelled
        nor replaced, belong to the same issuer and the same taker, and be recent enough."""
        key = _text(subst, "n:chSubstda")
        record = self.nfse.get(key)
        if not record:
            raise _Refusal(400, REPLACED_UNKNOWN, "NFS-e a ser substituída não encontrada", key)
        if record["cancelled"] or record["replaced_by"]:
            raise _Refusal(
                400, REPLACED_STATE, "NFS-e a ser substituída já cancelada ou substituída", key
            )
        issuer = _text(inf, "n:prest/n:CNPJ") or _text(inf, "n:prest/n:CPF")
        taker = _text(inf, "n:toma/n:CNPJ") or _text(inf, "n:toma/n:CPF")
        if issuer != record["cnpj"] or taker != record["taker"]:
            raise _Refusal(
                400,
                REPLACED_PARTY,
                "Emitente ou tomador da DPS substituta difere da NFS-e substituída",
                key,
            )
        if self.now() - record["issued_at"] > self.replace_window:
            raise _Refusal(
                400,
                REPLACE_WINDOW,
                "Prazo para substituição da NFS-e expirado",
                f"emitida em {record['dhProc']}",
            )
        return record

    def _register_replacement(self, replaced, record, subst):
        """Event e105102 on the replaced NFS-e, registered by the Sefin itself."""
        replaced["cancelled"] = True
        replaced["replaced_by"] = record["chave"]
        chave = replaced["chave"]
        request = etree.Element(N + "pedRegEvento", nsmap={None: NS}, versao="1.01")
        inf = _sub(request, "infPedReg")
        inf.set("Id", f"PRE{chave}105102")
        _sub(inf, "tpAmb", self.environment)
        _sub(inf, "verAplic", "RBMTestSefin-1.0")
        _sub(inf, "dhEvento", self._stamp())
        _sub(inf, "CNPJAutor", replaced["cnpj"])
        _sub(inf, "chNFSe", chave)
        event = _sub(inf, "e105102")
        _sub(event, "xDesc", "Cancelamento de NFS-e por Substituição")
        _sub(event, "cMotivo", _text(subst, "n:cMotivo"))
        if _text(subst, "n:xMotivo"):
            _sub(event, "xMotivo", _text(subst, "n:xMotivo"))
        _sub(event, "chSubstituta", record["chave"])
        errors = schema_errors(request, "pedRegEvento_v1.01.xsd")
        if errors:  # the server's own mistake: let the test see it
            raise _Refusal(500, "X0500", "Evento inválido no servidor de teste", "; ".join(errors))
        number = len(self.events) + 1
        xml = self._event_xml(request, chave, number, "105102")
        self.events.append({"chave": chave, "type": "105102", "xml": xml})

    def _get_event(self, handler, chave, kind, sequence):
        found = [e for e in self.events if e["chave"] == chave and e["type"] == kind]
        if len(found) < sequence or sequence < 1:
            raise _Refusal(404, NOT_FOUND, "Evento não encontrado", f"{chave}/{kind}")
        handler.reply(
            200,
            {
                "tipoAmbiente": int(self.environment),
                "versaoAplicativo": "RBMTestSefin-1.0",
                "dataHoraProcessamento": self._stamp(),
                "eventoXmlGZipB64": pack(found[sequence - 1]["xml"]),
            },
        )

    # -- look-ups ----------------------------------------------------------------------

    def _get_nfse(self, handler, chave):
        record = self.nfse.get(chave)
        if not record:
            raise _Refusal(404, NOT_FOUND, "NFS-e não encontrada", chave)
        handler.reply(
            200,
            {
                "tipoAmbiente": int(self.environment),
                "versaoAplicativo": "RBMTestSefin-1.0",
                "dataHoraProcessamento": self._stamp(),
                "chaveAcesso": chave,
                "nfseXmlGZipB64": pack(record["xml"]),
            },
        )

    def _get_dps(self, handler, dps_id):
        chave = self.by_dps.get(dps_id)
        if not chave:
            raise _Refusal(404, NOT_FOUND, "DPS não encontrada", dps_id)
        handler.reply(
            200,
            {
                "tipoAmbiente": int(self.environment),
                "versaoAplicativo": "RBMTestSefin-1.0",
                "dataHoraProcessamento": self._stamp(),
                "idDps": dps_id,
                "chaveAcesso": chave,
            },
        )

    # -- events ------------------------------------------------------------------------

    def _post_event(self, handler, chave, raw, peer):
        xml, root = self._document(raw, "pedidoRegistroEventoXmlGZipB64", "pedRegEvento_v1.01.xsd")
        inf = root.find(N + "infPedReg")
        self._check_signature(xml, peer, inf.get("Id"))
        if _text(inf, "n:chNFSe") != chave:
            raise _Refusal(400, EVENT_KEY, "Chave do evento difere da chave do recurso", chave)
        with self.lock:
            record = self.nfse.get(chave)
            if not record:
                raise _Refusal(404, NOT_FOUND, "NFS-e não encontrada", chave)
            if inf.find(N + "e101101") is None:
                raise _Refusal(400, EVENT_KEY, "Evento não suportado pelo servidor de teste")
            if record["cancelled"]:
                raise _Refusal(400, CANCELLED, "NFS-e já cancelada", chave)
            if record["replaced_by"]:
                raise _Refusal(400, CANCELLED, "NFS-e substituída", record["replaced_by"])
            if self.now() - record["issued_at"] > self.cancel_window:
                raise _Refusal(
                    400,
                    CANCEL_WINDOW,
                    "Prazo para cancelamento da NFS-e expirado",
                    f"emitida em {record['dhProc']}",
                )
            record["cancelled"] = True
            number = len(self.events) + 1
            event = self._event_xml(root, chave, number)
            self.events.append({"chave": chave, "type": "101101", "xml": event})
        handler.reply(
            201,
            {
                "tipoAmbiente": int(self.environment),
                "versaoAplicativo": "RBMTestSefin-1.0",
                "dataHoraProcessamento": self._stamp(),
                "eventoXmlGZipB64": pack(event),
            },
        )

    def _event_xml(self, request_root, chave, number, kind="101101"):
        root = etree.Element(N + "evento", nsmap={None: NS}, versao="1.01")
        info = _sub(root, "infEvento")
        info.set("Id", f"EVT{chave}{kind}001")
        _sub(info, "verAplic", "RBMTestSefin-1.0")
        _sub(info, "ambGer", "2")
        _sub(info, "nSeqEvento", "1")
        _sub(info, "dhProc", self._stamp())
        _sub(info, "nDFSe", number)
        info.append(request_root)
        signer = XMLSigner(
            signature_algorithm="rsa-sha256", digest_algorithm="sha256", c14n_algorithm=C14N
        )
        signer.namespaces = {None: DSIG}
        signed = signer.sign(
            root,
            key=self._server_key,
            cert=self._server_cert,
            reference_uri=f"#EVT{chave}{kind}001",
        )
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
