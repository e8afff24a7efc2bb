"""A local PSP that speaks the Banco Central's standard Pix API (OpenAPI 2.9.0), for tests.

No Odoo import: plain pytest loads this file as ``rbm_pix_psp_server`` (``tests/conftest.py``)
and Odoo tests import it as ``odoo.addons.rbm_pix.tests.psp_server``.

- HTTPS with mutual TLS: :func:`make_pki` generates a CA, a server certificate and a client
  certificate (PEM, plus the client's PKCS#12); a connection without a client certificate
  signed by that CA is refused at the TLS handshake.
- OAuth2 client credentials at ``/oauth/token`` (HTTP Basic or form credentials), bearer tokens
  that expire (``token_lifetime`` seconds) and carry the specification's scopes.
- Under ``/api/v2``: ``cob``, ``cobv``, ``rec``, ``solicrec``, ``cobr`` (with ``retentativa``),
  ``locrec``, ``webhook/{chave}``, ``webhookrec``, ``webhookcobr``, ``pix/{e2eid}`` and refunds,
  with the specification's states and rules and RFC 7807 error bodies of its error types.
  Request bodies are validated against the operation's own schema read from
  ``spec/openapi.json`` (with the errata listed in ``spec/README.md``).
- A payer simulator (python methods: approve/reject/expire/cancel a ``rec``, accept/reject a
  ``solicrec``, pay a ``cob``/``cobv``/``cobr``, fail a ``cobr`` attempt, let it expire, cancel it
  as the payer, settle a refund) whose changes are notified by POSTs to the registered webhook
  URLs with ``/rec``, ``/cobr`` or ``/pix`` appended literally.
- Failures on demand (:meth:`PspServer.fail_next`) to test retries.

Usage::

    server = PspServer().start()
    ...  # server.base_url, server.token_url, server.pki.client_cert ...
    server.stop()
"""

import base64
import copy
import datetime
import hmac
import ipaddress
import json
import queue
import re
import secrets
import ssl
import string
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SPEC_FILE = Path(__file__).resolve().parent / "spec" / "openapi.json"
ERROR_PREFIX = "https://pix.bcb.gov.br/api/v2/error/"
API_PREFIX = "/api/v2"
ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits

# attempt rejection codes that end the cycle's charge (CobRTentativas.rejeicao.codigo)
FINAL_ATTEMPT_CODES = ("AC05", "AM09", "DENC", "DS27", "DTED", "MIDI", "MSUC", "NITX", "RC09")
LIVE_COBR = ("CRIADA", "ATIVA", "CONCLUIDA", "EXPIRADA")
PENDING_ATTEMPT = ("SOLICITADA", "AGENDADA")
MONTHS = {"MENSAL": 1, "TRIMESTRAL": 3, "SEMESTRAL": 6, "ANUAL": 12}


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


def _name(common_name):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RBM test PSP"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _issue(subject, key, issuer, issuer_key, days, *, ca=False, server=False, hostname=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
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
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname or "localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory=None, hostname="localhost", client_name="rbm-client", days=30):
    """Generate a CA, a server and a client certificate; answer their file paths."""
    folder = Path(directory or tempfile.mkdtemp(prefix="psp-pki-"))
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("RBM test CA", ca_key, "RBM test CA", ca_key, days, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _issue(
        hostname, server_key, "RBM test CA", ca_key, days, server=True, hostname=hostname
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue(client_name, client_key, "RBM test CA", ca_key, days)
    paths = {}
    for label, cert, key in (
        ("ca", ca_cert, ca_key),
        ("server", server_cert, server_key),
        ("client", client_cert, client_key),
    ):
        cert_path, key_path = folder / f"{label}.crt", folder / f"{label}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        paths[label] = (str(cert_path), str(key_path))
    password = "test-p12"
    p12_path = folder / "client.p12"
    p12_path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            client_name.encode(),
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
        client_p12=str(p12_path),
        client_p12_password=password,
    )


# ---------------------------------------------------------------------------
# the specification's schemas
# ---------------------------------------------------------------------------

ERRATA = (
    # (schema, keyword, values removed from the list) -- see spec/README.md
    ("RecBase", "required", ("idRec", "retentativa")),
    ("SolicRecBase", "required", ("pagador",)),
    ("PayloadLocationCob", "required", ("tipoCob",)),
    ("PayloadLocationRecGerada", "required", ("tipo",)),
    ("DadosPagadorRec", "required", ("ispbParticipante",)),
)


def load_spec():
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name, keyword, removed in ERRATA:
        schemas[name][keyword] = [v for v in schemas[name][keyword] if v not in removed]
    _drop_location_uri_format(spec)
    automatico = schemas["PixAutomatico"]["properties"]
    automatico["componentesValor"] = {"type": "object", "anyOf": automatico["valor"].pop("anyOf")}
    notification = schemas["RecNotification"]
    notification["required"] = [v.replace('"', "") for v in notification["required"]]
    return spec


def _drop_location_uri_format(node):
    """``location`` is written without its scheme (as in the BR Code's field 25), not as a URI."""
    if isinstance(node, dict):
        location = node.get("properties", {}).get("location")
        if isinstance(location, dict) and location.get("format") == "uri":
            del location["format"]
        for value in node.values():
            _drop_location_uri_format(value)
    elif isinstance(node, list):
        for value in node:
            _drop_location_uri_format(value)


class SpecValidator:
    """Checks a value against a schema of the specification (OpenAPI 3.0 subset it uses)."""

    def __init__(self, spec):
        self.spec = spec
        self._patterns = {}

    def _resolve(self, ref):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    def request_schema(self, method, template):
        operation = self.spec["paths"][template][method.lower()]
        body = operation.get("requestBody")
        if not body:
            return None
        if "$ref" in body:
            body = self._resolve(body["$ref"])
        return body["content"]["application/json"]["schema"]

    def scopes(self, method, template):
        operation = self.spec["paths"][template][method.lower()]
        scopes = set()
        for requirement in operation.get("security") or ():
            scopes.update(requirement.get("OAuth2", ()))
        return scopes

    def all_scopes(self):
        flows = self.spec["components"]["securitySchemes"]["OAuth2"]["flows"]
        return set(flows["clientCredentials"]["scopes"])

    def check_schema(self, name, value, root=""):
        return self.violations({"$ref": f"#/components/schemas/{name}"}, value, root)

    def violations(self, schema, value, path=""):
        found = []
        self._check(schema, value, path, found)
        return found

    def _pattern(self, text):
        if text not in self._patterns:
            raw = text[1:-1] if len(text) > 1 and text[0] == "/" and text[-1] == "/" else text
            self._patterns[text] = re.compile(raw.lstrip("^").rstrip("$"))
        return self._patterns[text]

    def _check(self, schema, value, path, found):
        if "$ref" in schema:
            schema = self._resolve(schema["$ref"])
        for sub in schema.get("allOf", ()):
            self._check(sub, value, path, found)
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                results = []
                for sub in schema[keyword]:
                    branch = []
                    self._check(sub, value, path, branch)
                    results.append(branch)
                if all(results):
                    found.extend(min(results, key=len))
        kind = schema.get("type")
        if value is None:
            if kind and not schema.get("nullable"):
                found.append((path, "não pode ser nulo", value))
            return
        if kind == "object" or "properties" in schema or "required" in schema:
            if not isinstance(value, dict):
                if kind == "object":
                    found.append((path, "deve ser um objeto", value))
                return
            for key in schema.get("required", ()):
                if key not in value:
                    found.append((_join(path, key), "campo obrigatório ausente", None))
            for key, sub in schema.get("properties", {}).items():
                if key in value:
                    self._check(sub, value[key], _join(path, key), found)
            return
        if kind == "array":
            if not isinstance(value, list):
                found.append((path, "deve ser uma lista", value))
                return
            most = schema.get("maxItems", schema.get("maximum"))
            if most is not None and len(value) > most:
                found.append((path, f"no máximo {most} itens", len(value)))
            if len(value) < schema.get("minItems", 0):
                found.append((path, f"no mínimo {schema['minItems']} itens", len(value)))
            for index, item in enumerate(value):
                self._check(schema.get("items", {}), item, f"{path}[{index}]", found)
            return
        if kind == "string" and not isinstance(value, str):
            found.append((path, "deve ser um texto", value))
            return
        if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
            found.append((path, "deve ser um número inteiro", value))
            return
        if kind == "boolean" and not isinstance(value, bool):
            found.append((path, "deve ser true ou false", value))
            return
        if "enum" in schema and value not in schema["enum"]:
            found.append(
                (path, f"valor fora da lista: {', '.join(map(str, schema['enum']))}", value)
            )
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                found.append((path, f"tamanho máximo {schema['maxLength']}", value))
            if "minLength" in schema and len(value) < schema["minLength"]:
                found.append((path, f"tamanho mínimo {schema['minLength']}", value))
            if "pattern" in schema and not self._pattern(schema["pattern"]).fullmatch(value):
                found.append((path, f"não respeita o padrão {schema['pattern']}", value))
            problem = _format_problem(schema.get("format"), value)
            if problem:
                found.append((path, problem, value))
        if isinstance(value, int) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                found.append((path, f"mínimo {schema['minimum']}", value))
            if "maximum" in schema and value > schema["maximum"]:
                found.append((path, f"máximo {schema['maximum']}", value))


def _join(path, key):
    return f"{path}.{key}" if path else key


def _format_problem(fmt, value):
    try:
        if fmt == "date":
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            datetime.date.fromisoformat(value)
        elif fmt == "date-time":
            if "T" not in value:
                raise ValueError
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif fmt == "uri":
            parts = urlsplit(value)
            if not parts.scheme or not parts.netloc:
                raise ValueError
    except ValueError:
        return f"não respeita o formato {fmt}"
    return None


# ---------------------------------------------------------------------------
# BR Code (only what the server needs to hand out copy-and-paste codes)
# ---------------------------------------------------------------------------


def _tlv(tag, value):
    return f"{tag}{len(value):02d}{value}"


def crc16(payload):
    crc = 0xFFFF
    for byte in payload.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def brcode(name, city, cob_location=None, rec_location=None):
    account = _tlv("00", "br.gov.bcb.pix")
    if cob_location:
        account += _tlv("25", cob_location)
    text = (
        _tlv("00", "01")
        + _tlv("01", "12")
        + _tlv("26", account)
        + _tlv("52", "0000")
        + _tlv("53", "986")
        + _tlv("58", "BR")
        + _tlv("59", name[:25])
        + _tlv("60", city[:15])
        + _tlv("62", _tlv("05", "***"))
    )
    if rec_location:
        text += _tlv("80", _tlv("00", "br.gov.bcb.pix") + _tlv("25", rec_location))
    text += "6304"
    return text + crc16(text)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


class Problem(Exception):
    """An RFC 7807 answer."""

    def __init__(self, status, name, title, detail="", violacoes=None):
        super().__init__(title)
        self.status = status
        self.name = name
        self.title = title
        self.detail = detail
        self.violacoes = violacoes or []

    def body(self):
        body = {
            "type": ERROR_PREFIX + self.name,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.violacoes:
            body["violacoes"] = [
                {"razao": r, "propriedade": p, "valor": "" if v is None else str(v)}
                for p, r, v in self.violacoes
            ]
        return body


def _invalid(name, prop, reason, value=None, detail=""):
    return Problem(
        400,
        name,
        "Requisição inválida.",
        detail or "A requisição não respeita o schema ou está semanticamente errada.",
        [(prop, reason, value)],
    )


def _not_found(name, title):
    return Problem(404, name, title, title)


# entity of a route: (prefix of propriedade, OperacaoInvalida type, NaoEncontrado type)
ENTITIES = {
    "cob": ("cob", "CobOperacaoInvalida", "CobNaoEncontrado"),
    "cobv": ("cobv", "CobVOperacaoInvalida", "CobVNaoEncontrada"),
    "rec": ("rec", "RecOperacaoInvalida", "RecNaoEncontrada"),
    "solicrec": ("solicrec", "SolicRecOperacaoInvalida", "SolicRecNaoEncontrada"),
    "cobr": ("cobr", "CobROperacaoInvalida", "CobRNaoEncontrado"),
    "locrec": ("locrec", "PayloadLocationRecOperacaoInvalida", "PayloadLocationRecNaoEncontrado"),
    "webhook": ("webhook", "WebhookOperacaoInvalida", "WebhookNaoEncontrado"),
    "webhookrec": ("webhookrec", "WebhookRecOperacaoInvalida", "NaoEncontrado"),
    "webhookcobr": ("webhookcobr", "WebhookCobROperacaoInvalida", "NaoEncontrado"),
    "pix": ("devolucao", "PixDevolucaoInvalida", "PixNaoEncontrado"),
}


def _random(alphabet, size):
    return "".join(secrets.choice(alphabet) for _ in range(size))


def _add_days(day, months):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def next_business_day(day):
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, context, psp):
        self.context = context
        self.psp = psp
        super().__init__(address, handler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.psp.handshake_failures.append(str(exc))
            return
        with self.psp.lock:
            self.psp.handshakes += 1
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that went away is not the server's problem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RBMTestPSP/1.0"

    def log_message(self, format, *args):
        pass

    def _any(self):
        self.server.psp._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def reply(self, status, payload=None, content_type="application/json", headers=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)


# ---------------------------------------------------------------------------
# the PSP
# ---------------------------------------------------------------------------


class PspServer:
    """A receiver's PSP with one receiver (CNPJ, account, Pix key) and one API client."""

    def __init__(
        self,
        pki=None,
        client_id="rbm-client",
        client_secret="rbm-secret",
        token_lifetime=3600,
        pix_key="cobranca@rbm.example",
        cnpj="12345678000195",
        nome="RBM Cobranca Ltda",
        cidade="Sao Paulo",
        ispb="12345678",
        conta="123456",
        today=None,
        notification_headers=None,
        notification_verify=True,
        require_https_webhooks=False,
        auto_activate=True,
    ):
        self.pki = pki
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.pix_key = pix_key
        self.cnpj = cnpj
        self.nome = nome
        self.cidade = cidade
        self.ispb = ispb
        self.conta = conta
        self._today = today
        self.notification_headers = dict(notification_headers or {})
        self.notification_verify = notification_verify
        self.require_https_webhooks = require_https_webhooks
        self.auto_activate = auto_activate
        self.validator = SpecValidator(load_spec())
        self.lock = threading.RLock()
        self.tokens = {}
        self.token_requests = 0
        self.handshake_failures = []
        self.handshakes = 0  # TLS connections accepted
        self.requests = []
        self.failures = []
        self.deliveries = []
        self.cobs, self.cobvs, self.recs, self.solicrecs, self.cobrs = {}, {}, {}, {}, {}
        self.locrecs, self.locs, self.pix = {}, {}, {}
        self.webhooks = {}
        self.payer_maximum = {}
        self._loc_seq = 0
        self._queue = queue.Queue()
        self._httpd = None
        self._threads = []
        self.port = None

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        if self.pki is None:
            self.pki = make_pki()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        context.load_verify_locations(self.pki.ca_cert)
        context.verify_mode = ssl.CERT_REQUIRED
        self._httpd = _TLSServer(("127.0.0.1", 0), _Handler, context, self)
        self.port = self._httpd.server_address[1]
        serve = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        notify = threading.Thread(target=self._deliver_loop, daemon=True)
        self._threads = [serve, notify]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def root_url(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def base_url(self):
        return self.root_url + API_PREFIX

    @property
    def token_url(self):
        return self.root_url + "/oauth/token"

    # -- clock ------------------------------------------------------------------

    @property
    def today(self):
        return self._today or datetime.date.today()

    @today.setter
    def today(self, value):
        self._today = value

    def now(self):
        clock = datetime.datetime.now(datetime.timezone.utc)
        return datetime.datetime.combine(self.today, clock.time(), datetime.timezone.utc)

    def stamp(self):
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    # -- failures on demand ---------------------------------------------------------

    def fail_next(self, method, path_regex, status=503, times=1, after=False, drop=False):
        """Answer the next ``times`` matching calls with ``status`` (or drop the connection).

        ``after=True`` applies the call first, then fails the answer (a lost response).
        """
        with self.lock:
            self.failures.append(
                {
                    "method": method.upper(),
                    "regex": re.compile(path_regex),
                    "status": status,
                    "times": times,
                    "after": after,
                    "drop": drop,
                }
            )

    def _take_failure(self, method, path):
        with self.lock:
            for failure in self.failures:
                if failure["method"] == method and failure["regex"].search(path):
                    failure["times"] -= 1
                    if failure["times"] <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    # -- dispatch ----------------------------------------------------------------------

    ROUTES = (
        ("GET", r"/cob", "/cob", "cob", "_list_cob"),
        ("GET", r"/cobv", "/cobv", "cobv", "_list_cob"),
        ("PUT", r"/cob/(?P<txid>[^/]+)", "/cob/{txid}", "cob", "_put_cob"),
        ("PATCH", r"/cob/(?P<txid>[^/]+)", "/cob/{txid}", "cob", "_patch_cob"),
        ("GET", r"/cob/(?P<txid>[^/]+)", "/cob/{txid}", "cob", "_get_cob"),
        ("PUT", r"/cobv/(?P<txid>[^/]+)", "/cobv/{txid}", "cobv", "_put_cob"),
        ("PATCH", r"/cobv/(?P<txid>[^/]+)", "/cobv/{txid}", "cobv", "_patch_cob"),
        ("GET", r"/cobv/(?P<txid>[^/]+)", "/cobv/{txid}", "cobv", "_get_cob"),
        ("POST", r"/locrec", "/locrec", "locrec", "_post_locrec"),
        ("GET", r"/locrec/(?P<id>\d+)", "/locrec/{id}", "locrec", "_get_locrec"),
        ("DELETE", r"/locrec/(?P<id>\d+)/idRec", "/locrec/{id}/idRec", "locrec", "_unlink_locrec"),
        ("POST", r"/rec", "/rec", "rec", "_post_rec"),
        ("GET", r"/rec/(?P<idRec>[^/]+)", "/rec/{idRec}", "rec", "_get_rec"),
        ("PATCH", r"/rec/(?P<idRec>[^/]+)", "/rec/{idRec}", "rec", "_patch_rec"),
        ("POST", r"/solicrec", "/solicrec", "solicrec", "_post_solicrec"),
        ("GET", r"/solicrec/(?P<id>[^/]+)", "/solicrec/{idSolicRec}", "solicrec", "_get_solicrec"),
        (
            "PATCH",
            r"/solicrec/(?P<id>[^/]+)",
            "/solicrec/{idSolicRec}",
            "solicrec",
            "_patch_solicrec",
        ),
        ("PUT", r"/cobr/(?P<txid>[^/]+)", "/cobr/{txid}", "cobr", "_put_cobr"),
        ("POST", r"/cobr", "/cobr", "cobr", "_put_cobr"),
        ("GET", r"/cobr/(?P<txid>[^/]+)", "/cobr/{txid}", "cobr", "_get_cobr"),
        ("PATCH", r"/cobr/(?P<txid>[^/]+)", "/cobr/{txid}", "cobr", "_patch_cobr"),
        (
            "POST",
            r"/cobr/(?P<txid>[^/]+)/retentativa/(?P<data>[^/]+)",
            "/cobr/{txid}/retentativa/{data}",
            "cobr",
            "_retry_cobr",
        ),
        ("PUT", r"/webhook/(?P<chave>[^/]+)", "/webhook/{chave}", "webhook", "_put_webhook"),
        ("GET", r"/webhook/(?P<chave>[^/]+)", "/webhook/{chave}", "webhook", "_get_webhook"),
        ("DELETE", r"/webhook/(?P<chave>[^/]+)", "/webhook/{chave}", "webhook", "_del_webhook"),
        ("PUT", r"/webhookrec", "/webhookrec", "webhookrec", "_put_webhook"),
        ("GET", r"/webhookrec", "/webhookrec", "webhookrec", "_get_webhook"),
        ("DELETE", r"/webhookrec", "/webhookrec", "webhookrec", "_del_webhook"),
        ("PUT", r"/webhookcobr", "/webhookcobr", "webhookcobr", "_put_webhook"),
        ("GET", r"/webhookcobr", "/webhookcobr", "webhookcobr", "_get_webhook"),
        ("DELETE", r"/webhookcobr", "/webhookcobr", "webhookcobr", "_del_webhook"),
        ("GET", r"/pix/(?P<e2eid>[^/]+)", "/pix/{e2eid}", "pix", "_get_pix"),
        (
            "PUT",
            r"/pix/(?P<e2eid>[^/]+)/devolucao/(?P<id>[^/]+)",
            "/pix/{e2eid}/devolucao/{id}",
            "pix",
            "_put_devolucao",
        ),
        (
            "GET",
            r"/pix/(?P<e2eid>[^/]+)/devolucao/(?P<id>[^/]+)",
            "/pix/{e2eid}/devolucao/{id}",
            "pix",
            "_get_devolucao",
        ),
    )

    def _handle(self, handler):
        method = handler.command
        parts = urlsplit(handler.path)
        path = parts.path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        self.requests.append((method, path))
        failure = self._take_failure(method, path)
        if failure and failure["drop"]:
            handler.close_connection = True
            handler.connection.close()
            return
        if failure and not failure["after"]:
            handler.reply(failure["status"], self._failure_body(failure["status"]))
            return
        try:
            if path == "/oauth/token" and method == "POST":
                status, payload, headers = self._token(handler, raw)
                ctype = "application/json"
            else:
                status, payload = self._api(handler, method, path, parts.query, raw)
                headers, ctype = {}, "application/json"
        except Problem as problem:
            status, payload, headers = problem.status, problem.body(), {}
            ctype = "application/problem+json"
            if status == 401:
                headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        except Exception as exc:  # the test server reports, never dies
            problem = Problem(500, "ErroInternoDoServidor", "Erro interno do servidor.", str(exc))
            status, payload, headers = 500, problem.body(), {}
            ctype = "application/problem+json"
        if failure:
            handler.reply(failure["status"], self._failure_body(failure["status"]))
            return
        handler.reply(status, payload, ctype, headers)

    @staticmethod
    def _failure_body(status):
        name = {503: "ServicoIndisponivel", 504: "IndisponibilidadePorTempoEsgotado"}
        return Problem(
            status, name.get(status, "ErroInternoDoServidor"), "Serviço indisponível."
        ).body()

    def _token(self, handler, raw):
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _sep, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = secret = None
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        if not (
            client_id
            and secret
            and hmac.compare_digest(client_id, self.client_id)
            and hmac.compare_digest(secret, self.client_secret)
        ):
            return 401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="psp"'}
        allowed = self.validator.all_scopes()
        wanted = set(form["scope"].split()) if form.get("scope") else allowed
        if not wanted <= allowed:
            return 400, {"error": "invalid_scope"}, {}
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (time.monotonic() + self.token_lifetime, wanted)
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": " ".join(sorted(wanted)),
        }
        return 200, body, {"Cache-Control": "no-store"}

    def expire_tokens(self):
        """Every token issued so far stops working (as if its lifetime had passed)."""
        with self.lock:
            self.tokens.clear()

    def _api(self, handler, method, path, query, raw):
        if not path.startswith(API_PREFIX + "/"):
            raise _not_found("NaoEncontrado", "Recurso não encontrado.")
        route_path = path[len(API_PREFIX) :]
        route = match = None
        for candidate in self.ROUTES:
            match = re.fullmatch(candidate[1], route_path)
            if candidate[0] == method and match:
                route = candidate
                break
        if route is None:
            raise _not_found("NaoEncontrado", "Recurso não encontrado.")
        _verb, _pattern, template, entity, action = route
        self._authorize(handler, method, template)
        body = None
        schema = self.validator.request_schema(method, template)
        if schema is not None:
            try:
                body = json.loads(raw.decode("utf-8")) if raw else None
            except (ValueError, UnicodeDecodeError) as exc:
                raise Problem(
                    400, "RequisicaoInvalida", "Requisição inválida.", "Corpo não é JSON."
                ) from exc
            prefix, invalid, _missing = ENTITIES[entity]
            found = self.validator.violations(schema, body, prefix)
            if found:
                raise Problem(
                    400,
                    invalid,
                    "Requisição inválida.",
                    "A requisição não respeita o schema.",
                    found[:10],
                )
        params = {key: unquote(value) for key, value in match.groupdict().items()}
        query = {k: v[0] for k, v in parse_qs(query).items()}
        with self.lock:
            return getattr(self, action)(entity, params, query, body)

    def _authorize(self, handler, method, template):
        auth = handler.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self.lock:
            entry = self.tokens.get(token) if token else None
            if entry and entry[0] <= time.monotonic():
                del self.tokens[token]
                entry = None
        if not entry:
            raise Problem(401, "NaoAutorizado", "Token ausente, inválido ou expirado.")
        needed = self.validator.scopes(method, template)
        if needed and not needed & entry[1]:
            raise Problem(
                403,
                "AcessoNegado",
                "Acesso negado.",
                f"Escopo necessário: {' ou '.join(sorted(needed))}.",
            )

    # -- helpers ---------------------------------------------------------------------

    def _location(self, kind):
        self._loc_seq += 1
        token = _random(ALNUM, 32)
        return self._loc_seq, f"pix.rbm.example/qr/v2/{kind}/{token}"

    def _e2e(self, ispb=None):
        return "E" + (ispb or "99999999") + self.now().strftime("%Y%m%d%H%M") + _random(ALNUM, 11)

    def _status(self, entity, status, at=None):
        entity["status"] = status
        entity.setdefault("atualizacao", []).append({"status": status, "data": at or self.stamp()})

    def notify(self, kind, payload):
        """Queue a notification to the webhook registered for ``kind`` (rec, cobr, pix)."""
        if kind == "pix":
            hook = self.webhooks.get(("webhook", self.pix_key))
        else:
            hook = self.webhooks.get((f"webhook{kind}", None))
        if hook:
            self._queue.put((hook["webhookUrl"] + "/" + kind, payload))

    def _deliver_loop(self):
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                url, payload = item
                try:
                    response = requests.post(
                        url,
                        json=payload,
                        headers=self.notification_headers,
                        timeout=5,
                        verify=self.notification_verify,
                    )
                    outcome = response.status_code
                except requests.RequestException as exc:
                    outcome = f"error: {exc}"
                self.deliveries.append({"url": url, "body": payload, "status": outcome})
            finally:
                self._queue.task_done()

    def wait_notifications(self, timeout=5.0):
        """Wait until every queued notification was delivered (or failed)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("notifications still pending")
            time.sleep(0.01)
        return self.deliveries

    def redeliver(self, index=-1):
        """Send one past notification again (a PSP repeating itself)."""
        delivery = self.deliveries[index]
        self._queue.put((delivery["url"], delivery["body"]))

    # -- cob / cobv ------------------------------------------------------------------

    def _store(self, entity):
        return self.cobs if entity == "cob" else self.cobvs

    def _check_cob_semantics(self, entity, body, current=None):
        prefix, invalid, _missing = ENTITIES[entity]
        if "chave" in body and body["chave"] != self.pix_key:
            raise _invalid(
                invalid,
                f"{prefix}.chave",
                "a chave não pertence a este usuário recebedor",
                body["chave"],
            )
        original = (body.get("valor") or {}).get("original")
        if original is not None and Decimal(original) == 0:
            raise _invalid(invalid, f"{prefix}.valor.original", "valor zero", original)
        calendar = body.get("calendario") or {}
        if entity == "cob" and "expiracao" in calendar and calendar["expiracao"] <= 0:
            raise _invalid(invalid, f"{prefix}.calendario.expiracao", "deve ser maior que zero")
        if entity == "cobv" and "dataDeVencimento" in calendar:
            created = datetime.date.fromisoformat(
                (current or {}).get("calendario", {}).get("criacao", self.stamp())[:10]
            )
            if datetime.date.fromisoformat(calendar["dataDeVencimento"]) < created:
                raise _invalid(
                    invalid,
                    f"{prefix}.calendario.dataDeVencimento",
                    "anterior à data de criação da cobrança",
                    calendar["dataDeVencimento"],
                )
            if calendar.get("validadeAposVencimento", 0) < 0:
                raise _invalid(
                    invalid, f"{prefix}.calendario.validadeAposVencimento", "menor do que zero"
                )
        if "status" in body and len(body) > 1:
            raise _invalid(
                invalid,
                f"{prefix}.status",
                "a remoção não pode vir junto com outras alterações",
                body["status"],
            )

    def _put_cob(self, entity, params, query, body):
        txid = params["txid"]
        _prefix, invalid, _missing = ENTITIES[entity]
        if not re.fullmatch(r"[a-zA-Z0-9]{26,35}", txid):
            raise _invalid(invalid, "txid", "não respeita o padrão [a-zA-Z0-9]{26,35}", txid)
        store = self._store(entity)
        current = store.get(txid)
        if current and current["status"] != "ATIVA":
            raise _invalid(
                invalid, f"{entity}.status", "a cobrança já existe e não está ATIVA", txid
            )
        self._check_cob_semantics(entity, body, current)
        if current:
            cob = current
            cob["revisao"] += 1
            keep = {"calendario": {"criacao": cob["calendario"]["criacao"]}}
        else:
            loc_id, location = self._location(entity)
            now = self.stamp()
            cob = {
                "txid": txid,
                "revisao": 0,
                "status": "ATIVA",
                "loc": {
                    "id": loc_id,
                    "txid": txid,
                    "location": location,
                    "tipoCob": entity,
                    "criacao": now,
                },
                "location": location,
                "history": [],
            }
            keep = {"calendario": {"criacao": now}}
        for key in ("devedor", "valor", "chave", "solicitacaoPagador", "infoAdicionais"):
            cob.pop(key, None)
        cob.update(copy.deepcopy(body))
        cob["calendario"] = dict(keep["calendario"], **body.get("calendario", {}))
        if entity == "cob":
            cob["calendario"].setdefault("expiracao", 86400)
        else:
            cob["calendario"].setdefault("validadeAposVencimento", 30)
        cob["pixCopiaECola"] = brcode(self.nome, self.cidade, cob_location=cob["location"])
        cob["history"].append(self._public(cob))
        store[txid] = cob
        return 201, self._public(cob)

    @staticmethod
    def _public(cob):
        return {k: copy.deepcopy(v) for k, v in cob.items() if k not in ("history", "pix_kind")}

    def _patch_cob(self, entity, params, query, body):
        _prefix, invalid, missing = ENTITIES[entity]
        cob = self._store(entity).get(params["txid"])
        if not cob:
            raise _not_found(missing, "Cobrança não encontrada para o txid informado.")
        if cob["status"] != "ATIVA":
            raise _invalid(invalid, f"{entity}.status", "a cobrança não está ATIVA", cob["status"])
        self._check_cob_semantics(entity, body, cob)
        if body.get("status"):
            cob["status"] = body["status"]
        for key, value in body.items():
            if key == "status":
                continue
            if isinstance(value, dict) and isinstance(cob.get(key), dict) and key != "devedor":
                cob[key].update(copy.deepcopy(value))
            else:
                cob[key] = copy.deepcopy(value)
        cob["revisao"] += 1
        cob["history"].append(self._public(cob))
        return 200, self._public(cob)

    def _get_cob(self, entity, params, query, body):
        cob = self._store(entity).get(params["txid"])
        if not cob:
            raise _not_found(ENTITIES[entity][2], "Cobrança não encontrada para o txid informado.")
        if "revisao" in query:
            revisions = {str(item["revisao"]): item for item in cob["history"]}
            if query["revisao"] not in revisions:
                name = "CobConsultaInvalida" if entity == "cob" else "CobVConsultaInvalida"
                raise _invalid(name, "revisao", "revisão inexistente", query["revisao"])
            return 200, copy.deepcopy(revisions[query["revisao"]])
        return 200, self._public(cob)

    def _list_cob(self, entity, params, query, body):
        """``GET /cob`` and ``GET /cobv``: the charges created between ``inicio`` and ``fim``."""
        name = "CobConsultaInvalida" if entity == "cob" else "CobVConsultaInvalida"
        moments = {}
        for key in ("inicio", "fim"):
            if not query.get(key):
                raise _invalid(name, key, "campo obrigatório ausente")
            problem = _format_problem("date-time", query[key])
            if problem:
                raise _invalid(name, key, problem, query[key])
            moment = datetime.datetime.fromisoformat(query[key].replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            moments[key] = moment
        if moments["fim"] < moments["inicio"]:
            raise _invalid(name, "fim", "anterior a inicio", query["fim"])
        try:
            page = int(query.get("paginacao.paginaAtual", 0))
            size = int(query.get("paginacao.itensPorPagina", 100))
        except ValueError as exc:
            raise _invalid(name, "paginacao", "deve ser um número inteiro") from exc
        if page < 0 or not 1 <= size <= 1000:
            raise _invalid(name, "paginacao.itensPorPagina", "de 1 a 1000", size)
        found = []
        for cob in self._store(entity).values():
            created = datetime.datetime.fromisoformat(
                cob["calendario"]["criacao"].replace("Z", "+00:00")
            )
            if moments["inicio"] <= created <= moments["fim"]:
                found.append(self._public(cob))
        pages = max(1, -(-len(found) // size))
        return 200, {
            "parametros": {
                "inicio": query["inicio"],
                "fim": query["fim"],
                "paginacao": {
                    "paginaAtual": page,
                    "itensPorPagina": size,
                    "quantidadeDePaginas": pages,
                    "quantidadeTotalDeItens": len(found),
                },
            },
            "cobs": found[page * size : (page + 1) * size],
        }

    # -- locrec ----------------------------------------------------------------------

    def _post_locrec(self, entity, params, query, body):
        loc_id, location = self._location("rec")
        loc = {"id": loc_id, "location": location, "criacao": self.stamp()}
        self.locrecs[loc_id] = loc
        return 201, dict(loc)

    def _get_locrec(self, entity, params, query, body):
        loc = self.locrecs.get(int(params["id"]))
        if not loc:
            raise _not_found("PayloadLocationRecNaoEncontrado", "Location não encontrada.")
        return 200, dict(loc)

    def _unlink_locrec(self, entity, params, query, body):
        loc = self.locrecs.get(int(params["id"]))
        if not loc:
            raise _not_found("PayloadLocationRecNaoEncontrado", "Location não encontrada.")
        id_rec = loc.pop("idRec", None)
        if id_rec and id_rec in self.recs:
            self.recs[id_rec].pop("loc", None)
        return 200, dict(loc)

    # -- rec ----------------------------------------------------------------------

    def _rec_or_404(self, id_rec):
        rec = self.recs.get(id_rec)
        if not rec:
            raise _not_found("RecNaoEncontrada", "Recorrência não encontrada para o idRec.")
        return rec

    def _journey_of_txid(self, txid):
        if txid in self.cobs:
            return "JORNADA_3"
        if txid in self.cobvs:
            return "JORNADA_4"
        return None

    def _link_loc(self, rec, loc_id):
        loc = self.locrecs.get(loc_id)
        if not loc:
            raise _invalid("RecOperacaoInvalida", "rec.loc", "o location inexiste", loc_id)
        if loc.get("idRec") not in (None, rec["idRec"]):
            raise _invalid(
                "RecOperacaoInvalida", "rec.loc", "o location já é usado por outra recorrência"
            )
        if rec.get("loc") and rec["loc"]["id"] != loc_id:
            self.locrecs[rec["loc"]["id"]].pop("idRec", None)
        loc["idRec"] = rec["idRec"]
        rec["loc"] = dict(loc)

    def _post_rec(self, entity, params, query, body):
        calendar = body["calendario"]
        start = datetime.date.fromisoformat(calendar["dataInicial"])
        if start < self.today:
            raise _invalid(
                "RecOperacaoInvalida",
                "rec.calendario.dataInicial",
                "anterior à data de criação da recorrência",
                calendar["dataInicial"],
            )
        if calendar.get("dataFinal") and calendar["dataFinal"] < calendar["dataInicial"]:
            raise _invalid(
                "RecOperacaoInvalida",
                "rec.calendario.dataFinal",
                "anterior a rec.calendario.dataInicial",
                calendar["dataFinal"],
            )
        value = body.get("valor") or {}
        if "valorRec" in value and "valorMinimoRecebedor" in value:
            raise _invalid(
                "RecOperacaoInvalida",
                "rec.valor",
                "valorRec e valorMinimoRecebedor estão ambos preenchidos",
            )
        policy = body["politicaRetentativa"]
        id_rec = (
            "R"
            + ("R" if policy == "PERMITE_3R_7D" else "N")
            + self.ispb
            + self.today.strftime("%Y%m%d")
            + _random(ALNUM, 11)
        )
        rec = {
            "idRec": id_rec,
            "vinculo": copy.deepcopy(body["vinculo"]),
            "calendario": copy.deepcopy(calendar),
            "politicaRetentativa": policy,
            "recebedor": dict(
                {"cnpj": self.cnpj, "nome": self.nome}, **(body.get("recebedor") or {})
            ),
            "ativacao": {"tipoJornada": "AGUARDANDO_DEFINICAO"},
        }
        if value:
            rec["valor"] = copy.deepcopy(value)
        txid = ((body.get("ativacao") or {}).get("dadosJornada") or {}).get("txid")
        if txid:
            journey = self._journey_of_txid(txid)
            if not journey:
                raise _invalid(
                    "RecOperacaoInvalida",
                    "rec.ativacao.dadosJornada.txid",
                    "não corresponde a uma cobrança deste recebedor",
                    txid,
                )
            rec["ativacao"] = {"tipoJornada": journey, "dadosJornada": {"txid": txid}}
        if "loc" in body:
            self._link_loc(rec, body["loc"])
        self._status(rec, "CRIADA")
        self.recs[id_rec] = rec
        return 201, copy.deepcopy(rec)

    def _get_rec(self, entity, params, query, body):
        rec = self._rec_or_404(params["idRec"])
        answer = copy.deepcopy(rec)
        txid = query.get("txid")
        if txid:
            journey = self._journey_of_txid(txid)
            linked = (rec.get("ativacao", {}).get("dadosJornada") or {}).get("txid")
            if not journey or (journey == "JORNADA_3" and linked and linked != txid):
                raise _invalid(
                    "RecConsultaInvalida",
                    "txid",
                    "não corresponde a uma cobrança compatível com a recorrência",
                    txid,
                )
            cob = (self.cobs if journey == "JORNADA_3" else self.cobvs)[txid]
            answer["dadosQR"] = {
                "jornada": journey,
                "pixCopiaECola": brcode(
                    self.nome,
                    self.cidade,
                    cob_location=cob["location"],
                    rec_location=(rec.get("loc") or {}).get("location"),
                ),
            }
        elif rec.get("loc"):
            answer["dadosQR"] = {
                "jornada": "JORNADA_2",
                "pixCopiaECola": brcode(
                    self.nome, self.cidade, rec_location=rec["loc"]["location"]
                ),
            }
        return 200, answer

    def _patch_rec(self, entity, params, query, body):
        rec = self._rec_or_404(params["idRec"])
        if rec["status"] in ("REJEITADA", "EXPIRADA", "CANCELADA"):
            raise _invalid(
                "RecOperacaoInvalida",
                "rec.status",
                "a recorrência encontra-se expirada, cancelada ou rejeitada",
                rec["status"],
            )
        for key in ("loc", "calendario"):
            if key in body and rec["status"] != "CRIADA":
                raise _invalid(
                    "RecOperacaoInvalida",
                    f"rec.{key}",
                    "só pode ser alterado com a recorrência CRIADA",
                    rec["status"],
                )
        if "loc" in body:
            self._link_loc(rec, body["loc"])
        if "calendario" in body:
            start = body["calendario"].get("dataInicial")
            if start and datetime.date.fromisoformat(start) < self.today:
                raise _invalid(
                    "RecOperacaoInvalida",
                    "rec.calendario.dataInicial",
                    "anterior à data de criação da recorrência",
                    start,
                )
            rec["calendario"].update(body["calendario"])
        if "vinculo" in body:
            rec["vinculo"]["devedor"]["nome"] = body["vinculo"]["devedor"]["nome"]
        txid = ((body.get("ativacao") or {}).get("dadosJornada") or {}).get("txid")
        if txid:
            journey = self._journey_of_txid(txid)
            if not journey:
                raise _invalid(
                    "RecOperacaoInvalida",
                    "rec.ativacao.dadosJornada.txid",
                    "não corresponde a uma cobrança deste recebedor",
                    txid,
                )
            rec["ativacao"] = {"tipoJornada": journey, "dadosJornada": {"txid": txid}}
        if body.get("status") == "CANCELADA":
            self._end_rec(rec, "CANCELADA", "USUARIO_RECEBEDOR", "SLCR", "Cancelada pelo recebedor")
        return 200, copy.deepcopy(rec)

    def _end_rec(self, rec, status, who=None, code=None, reason=""):
        self._status(rec, status)
        if status == "CANCELADA":
            rec["encerramento"] = {
                "cancelamento": {"solicitante": who, "codigo": code, "descricao": reason}
            }
        elif status == "REJEITADA":
            rec["encerramento"] = {"rejeicao": {"codigo": code, "descricao": reason}}
        self._notify_rec(rec)

    def _notify_rec(self, rec):
        keys = ("idRec", "status", "atualizacao", "encerramento", "ativacao")
        self.notify("rec", {"recs": [{k: copy.deepcopy(rec[k]) for k in keys if k in rec}]})

    # -- solicrec ------------------------------------------------------------------

    def _post_solicrec(self, entity, params, query, body):
        rec = self.recs.get(body["idRec"])
        if not rec:
            raise _not_found("RecNaoEncontrada", "Recorrência não encontrada para o idRec.")
        if rec["status"] != "CRIADA":
            raise _invalid(
                "SolicRecOperacaoInvalida", "solicrec.idRec", "a recorrência não está CRIADA"
            )
        expiry = body["calendario"]["dataExpiracaoSolicitacao"]
        when = datetime.datetime.fromisoformat(expiry.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        if when < self.now():
            raise _invalid(
                "SolicRecOperacaoInvalida",
                "solicrec.calendario.dataExpiracaoSolicitacao",
                "anterior à data de criação da solicitação",
                expiry,
            )
        for other in self.solicrecs.values():
            if other["idRec"] == body["idRec"] and other["status"] in (
                "CRIADA",
                "ENVIADA",
                "RECEBIDA",
            ):
                raise _invalid(
                    "SolicRecOperacaoInvalida",
                    "solicrec.idRec",
                    "existe uma solicitação ativa para esta recorrência",
                    body["idRec"],
                )
        ident = "SC" + self.ispb + self.today.strftime("%Y%m%d") + _random(ALNUM, 11)
        solic = {
            "idSolicRec": ident,
            "idRec": body["idRec"],
            "calendario": copy.deepcopy(body["calendario"]),
            "destinatario": copy.deepcopy(body["destinatario"]),
        }
        self._status(solic, "CRIADA")
        self.solicrecs[ident] = solic
        rec["ativacao"] = {"tipoJornada": "JORNADA_1"}
        answer = self._solic_public(solic)
        if self.auto_activate:
            self._status(solic, "ENVIADA")
        return 201, answer

    def _solic_public(self, solic):
        rec = self.recs[solic["idRec"]]
        answer = copy.deepcopy(solic)
        answer["recPayload"] = {
            "idRec": rec["idRec"],
            "vinculo": copy.deepcopy(rec["vinculo"]),
            "calendario": copy.deepcopy(rec["calendario"]),
            "recebedor": {"cnpj": self.cnpj, "nome": self.nome, "ispbParticipante": self.ispb},
            "politicaRetentativa": rec["politicaRetentativa"],
            "atualizacao": copy.deepcopy(rec["atualizacao"]),
        }
        if rec.get("valor"):
            answer["recPayload"]["valor"] = copy.deepcopy(rec["valor"])
        return answer

    def _solic_or_404(self, ident):
        solic = self.solicrecs.get(ident)
        if not solic:
            raise _not_found("SolicRecNaoEncontrada", "Solicitação de recorrência não encontrada.")
        return solic

    def _get_solicrec(self, entity, params, query, body):
        return 200, self._solic_public(self._solic_or_404(params["id"]))

    def _patch_solicrec(self, entity, params, query, body):
        solic = self._solic_or_404(params["id"])
        if solic["status"] not in ("CRIADA", "ENVIADA", "RECEBIDA"):
            raise _invalid(
                "SolicRecOperacaoInvalida",
                "solicrec.status",
                "não é possível cancelar uma solicitação com o status " + solic["status"],
                solic["status"],
            )
        self._status(solic, "CANCELADA")
        return 201, self._solic_public(solic)  # the specification answers 201 here

    # -- cobr ----------------------------------------------------------------------

    def _cycle(self, rec, day):
        start = datetime.date.fromisoformat(rec["calendario"]["dataInicial"])
        period = rec["calendario"]["periodicidade"]
        if period == "SEMANAL":
            return (day - start).days // 7
        months = (day.year - start.year) * 12 + day.month - start.month
        return months // MONTHS[period]

    def _put_cobr(self, entity, params, query, body):
        txid = params.get("txid") or _random(ALNUM, 32)
        bad = "CobROperacaoInvalida"
        if not re.fullmatch(r"[a-zA-Z0-9]{26,35}", txid):
            raise _invalid(bad, "txid", "não respeita o padrão [a-zA-Z0-9]{26,35}", txid)
        if txid in self.cobrs:
            raise _invalid(bad, "cobr.txid", "o txid encontra-se em uso", txid)
        rec = self.recs.get(body["idRec"])
        if not rec:
            raise _invalid(bad, "cobr.idRec", "recorrência inexistente", body["idRec"])
        if rec["status"] != "APROVADA":
            raise _invalid(bad, "cobr.idRec", "a recorrência não está APROVADA", rec["status"])
        due = datetime.date.fromisoformat(body["calendario"]["dataDeVencimento"])
        if due < self.today:
            raise _invalid(
                bad,
                "cobr.calendario.dataDeVencimento",
                "anterior à data de criação da cobrança",
                due,
            )
        if not 2 <= (due - self.today).days <= 10:
            raise _invalid(
                bad,
                "cobr.calendario.dataDeVencimento",
                "a cobrança deve ser enviada de 2 a 10 dias antes da data de vencimento",
                due,
            )
        start = datetime.date.fromisoformat(rec["calendario"]["dataInicial"])
        end = rec["calendario"].get("dataFinal")
        if due < start or (end and due > datetime.date.fromisoformat(end)):
            raise _invalid(
                bad,
                "cobr.calendario.dataDeVencimento",
                "fora da vigência da recorrência",
                due,
            )
        fixed = (rec.get("valor") or {}).get("valorRec")
        if fixed and Decimal(fixed) != Decimal(body["valor"]["original"]):
            raise _invalid(
                bad,
                "cobr.valor.original",
                f"difere do valor fixo da recorrência ({fixed})",
                body["valor"]["original"],
            )
        cycle = self._cycle(rec, due)
        for other in self.cobrs.values():
            if (
                other["idRec"] == rec["idRec"]
                and other["status"] in LIVE_COBR
                and self._cycle(
                    rec, datetime.date.fromisoformat(other["calendario"]["dataDeVencimento"])
                )
                == cycle
            ):
                raise _invalid(
                    bad,
                    "cobr.calendario.dataDeVencimento",
                    "existe uma cobrança da mesma recorrência no mesmo ciclo",
                    other["txid"],
                )
        cobr = copy.deepcopy(body)
        cobr["txid"] = txid
        cobr["calendario"]["criacao"] = self.today.isoformat()
        cobr["recebedor"] = dict(cobr["recebedor"], cnpj=self.cnpj, nome=self.nome)
        cobr["politicaRetentativa"] = rec["politicaRetentativa"]
        cobr["tentativas"] = []
        self._status(cobr, "CRIADA")
        self.cobrs[txid] = cobr
        answer = copy.deepcopy(cobr)
        if self.auto_activate:
            self.activate_cobr(txid)
        return 201, answer

    def _cobr_or_404(self, txid):
        cobr = self.cobrs.get(txid)
        if not cobr:
            raise _not_found("CobRNaoEncontrado", "Cobrança não encontrada para o txid informado.")
        return cobr

    def _get_cobr(self, entity, params, query, body):
        return 200, copy.deepcopy(self._cobr_or_404(params["txid"]))

    def _first_attempt_day(self, cobr):
        if cobr["tentativas"]:
            return datetime.date.fromisoformat(cobr["tentativas"][0]["dataLiquidacao"])
        due = datetime.date.fromisoformat(cobr["calendario"]["dataDeVencimento"])
        return next_business_day(due) if cobr.get("ajusteDiaUtil") else due

    def _patch_cobr(self, entity, params, query, body):
        cobr = self._cobr_or_404(params["txid"])
        if cobr["status"] not in ("CRIADA", "ATIVA"):
            raise _invalid(
                "CobROperacaoInvalida",
                "cobr.status",
                "a cobrança não pode ser cancelada no status " + cobr["status"],
                cobr["status"],
            )
        if self.today >= self._first_attempt_day(cobr):
            raise _invalid(
                "CobROperacaoInvalida",
                "cobr.status",
                "não é possível cancelar uma cobrança em uma data igual ou maior que a data "
                "prevista da primeira tentativa de liquidação",
                cobr["status"],
            )
        self._end_cobr(cobr, "CANCELADA", "USUARIO_RECEBEDOR", "SLCR", "Cancelada pelo recebedor")
        return 200, copy.deepcopy(cobr)

    def _retry_cobr(self, entity, params, query, body):
        cobr = self._cobr_or_404(params["txid"])
        bad = "CobROperacaoInvalida"
        try:
            when = datetime.date.fromisoformat(params["data"])
        except ValueError as exc:
            raise _invalid(bad, "data", "não respeita o formato date", params["data"]) from exc
        rec = self.recs[cobr["idRec"]]
        if rec["politicaRetentativa"] != "PERMITE_3R_7D":
            raise _invalid(
                bad,
                "rec.politicaRetentativa",
                "a política configurada na recorrência não permite retentativa de cobrança",
                rec["politicaRetentativa"],
            )
        if cobr["status"] != "ATIVA":
            raise _invalid(bad, "cobr.status", "a cobrança não está ATIVA", cobr["status"])
        if any(t["status"] in PENDING_ATTEMPT for t in cobr["tentativas"]):
            raise _invalid(
                bad, "cobr.tentativas", "existe uma tentativa com status SOLICITADA ou AGENDADA"
            )
        if when <= self.today:
            raise _invalid(bad, "data", "o parâmetro data não corresponde a uma data futura", when)
        first = self._first_attempt_day(cobr)
        if when > first + datetime.timedelta(days=7):
            raise _invalid(bad, "data", "além de 7 dias da primeira tentativa", when)
        if len(cobr["tentativas"]) >= 4:
            raise _invalid(bad, "cobr.tentativas", "limite de 3 novas tentativas atingido")
        self._attempt(cobr, when, "NTAG")
        self._notify_cobr(cobr)
        return 201, copy.deepcopy(cobr)

    def _attempt(self, cobr, day, kind):
        payer = self.recs[cobr["idRec"]].get("pagador") or {}
        attempt = {
            "dataLiquidacao": day.isoformat(),
            "tipo": kind,
            "endToEndId": self._e2e(payer.get("ispbParticipante")),
            "atualizacao": [],
        }
        self._status(attempt, "SOLICITADA")
        self._status(attempt, "AGENDADA")
        cobr["tentativas"].append(attempt)
        return attempt

    def _end_cobr(self, cobr, status, who=None, code=None, reason=""):
        for attempt in cobr["tentativas"]:
            if attempt["status"] in PENDING_ATTEMPT:
                self._status(attempt, "CANCELADA" if status == "CANCELADA" else "EXPIRADA")
        self._status(cobr, status)
        if status == "CANCELADA":
            cobr["encerramento"] = {
                "cancelamento": {"solicitante": who, "codigo": code, "descricao": reason}
            }
        elif status == "REJEITADA":
            cobr["encerramento"] = {"rejeicao": {"codigo": code, "descricao": reason}}
        self._notify_cobr(cobr)

    def _notify_cobr(self, cobr):
        keys = ("idRec", "txid", "status", "atualizacao", "encerramento", "tentativas", "pix")
        self.notify("cobr", {"cobsr": [{k: copy.deepcopy(cobr[k]) for k in keys if k in cobr}]})

    # -- webhooks ----------------------------------------------------------------------

    def _hook_key(self, entity, params):
        if entity != "webhook":
            return (entity, None)
        chave = params["chave"]
        if chave != self.pix_key:
            raise _invalid(
                "WebhookOperacaoInvalida",
                "chave",
                "a chave não pertence a este usuário recebedor",
                chave,
            )
        return (entity, chave)

    def _put_webhook(self, entity, params, query, body):
        key = self._hook_key(entity, params)
        url = body["webhookUrl"]
        if self.require_https_webhooks and not url.startswith("https://"):
            raise _invalid(ENTITIES[entity][1], "webhookUrl", "deve usar https", url)
        hook = {"webhookUrl": url, "criacao": self.stamp()}
        if key[1]:
            hook.update(chave=key[1], cnpj=self.cnpj)
        self.webhooks[key] = hook
        return 200, None

    def _get_webhook(self, entity, params, query, body):
        hook = self.webhooks.get(self._hook_key(entity, params))
        if not hook:
            raise _not_found(ENTITIES[entity][2], "Webhook não encontrado.")
        return 200, dict(hook)

    def _del_webhook(self, entity, params, query, body):
        key = self._hook_key(entity, params)
        if key not in self.webhooks:
            raise _not_found(ENTITIES[entity][2], "Webhook não encontrado.")
        del self.webhooks[key]
        return 204, None

    # -- pix and refunds ------------------------------------------------------------

    def _pix_or_404(self, e2eid):
        pix = self.pix.get(e2eid)
        if not pix:
            raise _not_found("PixNaoEncontrado", "Pix não encontrado para o e2eid informado.")
        return pix

    def _get_pix(self, entity, params, query, body):
        return 200, copy.deepcopy(self._pix_or_404(params["e2eid"]))

    def _put_devolucao(self, entity, params, query, body):
        pix = self._pix_or_404(params["e2eid"])
        bad = "PixDevolucaoInvalida"
        refund_id = params["id"]
        if not re.fullmatch(r"[a-zA-Z0-9]{1,35}", refund_id):
            raise _invalid(bad, "id", "não respeita o padrão [a-zA-Z0-9]{1,35}", refund_id)
        if any(d["id"] == refund_id for d in pix["devolucoes"]):
            raise _invalid(bad, "id", "id já utilizado por outra devolução deste pix", refund_id)
        done = sum(Decimal(d["valor"]) for d in pix["devolucoes"] if d["status"] != "NAO_REALIZADO")
        if done + Decimal(body["valor"]) > Decimal(pix["valor"]):
            raise _invalid(
                bad,
                "devolucao.valor",
                "excederia o valor do pix originário",
                body["valor"],
            )
        refund = {
            "id": refund_id,
            "rtrId": "D" + self.ispb + self.now().strftime("%Y%m%d%H%M") + _random(ALNUM, 11),
            "valor": body["valor"],
            "natureza": body.get("natureza", "ORIGINAL"),
            "horario": {"solicitacao": self.stamp()},
            "status": "EM_PROCESSAMENTO",
        }
        if body.get("descricao"):
            refund["descricao"] = body["descricao"]
        pix["devolucoes"].append(refund)
        return 201, copy.deepcopy(refund)

    def _get_devolucao(self, entity, params, query, body):
        pix = self._pix_or_404(params["e2eid"])
        for refund in pix["devolucoes"]:
            if refund["id"] == params["id"]:
                return 200, copy.deepcopy(refund)
        raise _not_found("PixDevolucaoNaoEncontrada", "Devolução não encontrada.")

    # =============================================================================
    # payer simulator (python methods; each change is notified like a real PSP)
    # =============================================================================

    def _receive_pix(self, txid, amount, kind):
        e2e = self._e2e("87654321")
        pix = {
            "endToEndId": e2e,
            "txid": txid,
            "valor": amount,
            "chave": self.pix_key,
            "horario": self.stamp(),
            "componentesValor": {"original": {"valor": amount}},
            "devolucoes": [],
        }
        self.pix[e2e] = pix
        if kind != "cobr":
            self.notify("pix", {"pix": [self._pix_notice(pix)]})
        return pix

    @staticmethod
    def _pix_notice(pix):
        notice = copy.deepcopy(pix)
        if not notice["devolucoes"]:
            del notice["devolucoes"]
        return notice

    def pay_cob(self, txid, amount=None):
        """The payer pays an immediate charge; a journey-3 authorization on it is approved."""
        with self.lock:
            cob = self.cobs[txid]
            created = datetime.datetime.fromisoformat(
                cob["calendario"]["criacao"].replace("Z", "+00:00")
            )
            if cob["status"] != "ATIVA":
                raise ValueError(f"cob {txid} is {cob['status']}")
            if self.now() > created + datetime.timedelta(seconds=cob["calendario"]["expiracao"]):
                raise ValueError(f"cob {txid} expired")
            pix = self._receive_pix(txid, amount or cob["valor"]["original"], "cob")
            cob["status"] = "CONCLUIDA"
            cob["pix"] = [self._pix_notice(pix)]
            self._approve_linked(txid)
            return pix["endToEndId"]

    def pay_cobv(self, txid, amount=None):
        """The payer pays a due-date charge within its validity."""
        with self.lock:
            cobv = self.cobvs[txid]
            if cobv["status"] != "ATIVA":
                raise ValueError(f"cobv {txid} is {cobv['status']}")
            due = datetime.date.fromisoformat(cobv["calendario"]["dataDeVencimento"])
            last = due + datetime.timedelta(days=cobv["calendario"]["validadeAposVencimento"])
            if self.today > last:
                raise ValueError(f"cobv {txid} is past its validity")
            pix = self._receive_pix(txid, amount or cobv["valor"]["original"], "cobv")
            cobv["status"] = "CONCLUIDA"
            cobv["pix"] = [self._pix_notice(pix)]
            self._approve_linked(txid)
            return pix["endToEndId"]

    def _approve_linked(self, txid):
        for rec in self.recs.values():
            linked = (rec.get("ativacao", {}).get("dadosJornada") or {}).get("txid")
            if linked == txid and rec["status"] == "CRIADA":
                self._approve(rec, None, None, None)

    def _approve(self, rec, pagador, journey, valor_maximo):
        devedor = rec["vinculo"]["devedor"]
        rec["pagador"] = pagador or {
            "ispbParticipante": "87654321",
            "codMun": "3550308",
            **({"cpf": devedor["cpf"]} if "cpf" in devedor else {"cnpj": devedor["cnpj"]}),
        }
        if rec["ativacao"]["tipoJornada"] == "AGUARDANDO_DEFINICAO":
            rec["ativacao"] = {"tipoJornada": journey or "JORNADA_2"}
        self.payer_maximum[rec["idRec"]] = valor_maximo
        self._status(rec, "APROVADA")
        self._notify_rec(rec)

    def approve_rec(self, id_rec, pagador=None, journey=None, valor_maximo=None):
        """The payer authorizes the recurrence (in the app, from the QR or the request)."""
        with self.lock:
            rec = self.recs[id_rec]
            if rec["status"] != "CRIADA":
                raise ValueError(f"rec {id_rec} is {rec['status']}")
            floor = (rec.get("valor") or {}).get("valorMinimoRecebedor")
            if valor_maximo and floor and Decimal(valor_maximo) < Decimal(floor):
                raise ValueError("the payer's maximum is below the receiver's floor")
            self._approve(rec, pagador, journey, valor_maximo)
        return self.recs[id_rec]

    def reject_rec(self, id_rec, code="AP13", reason="Rejeitada pelo pagador"):
        with self.lock:
            rec = self.recs[id_rec]
            if rec["status"] != "CRIADA":
                raise ValueError(f"rec {id_rec} is {rec['status']}")
            self._end_rec(rec, "REJEITADA", code=code, reason=reason)

    def expire_rec(self, id_rec):
        with self.lock:
            rec = self.recs[id_rec]
            if rec["status"] != "CRIADA":
                raise ValueError(f"rec {id_rec} is {rec['status']}")
            self._end_rec(rec, "EXPIRADA")

    def cancel_rec_by_payer(self, id_rec, code="SLDB", reason="Cancelada pelo pagador"):
        with self.lock:
            rec = self.recs[id_rec]
            if rec["status"] not in ("CRIADA", "APROVADA"):
                raise ValueError(f"rec {id_rec} is {rec['status']}")
            self._end_rec(rec, "CANCELADA", "USUARIO_PAGADOR", code, reason)

    def receive_solicrec(self, id_solic):
        """The payer's PSP shows the request to the payer."""
        with self.lock:
            solic = self.solicrecs[id_solic]
            if solic["status"] == "CRIADA":
                self._status(solic, "ENVIADA")
            self._status(solic, "RECEBIDA")

    def accept_solicrec(self, id_solic, valor_maximo=None):
        """The payer accepts a journey-1 request: the recurrence is approved."""
        with self.lock:
            solic = self.solicrecs[id_solic]
            if solic["status"] not in ("CRIADA", "ENVIADA", "RECEBIDA"):
                raise ValueError(f"solicrec {id_solic} is {solic['status']}")
            self._status(solic, "ACEITA")
            destinatario = solic["destinatario"]
            pagador = {"ispbParticipante": destinatario["ispbParticipante"], "codMun": "3550308"}
            pagador.update({k: destinatario[k] for k in ("cpf", "cnpj") if k in destinatario})
            rec = self.recs[solic["idRec"]]
            self._approve(rec, pagador, "JORNADA_1", valor_maximo)

    def reject_solicrec(self, id_solic, code="AP14", reason="Rejeitada pelo pagador"):
        with self.lock:
            solic = self.solicrecs[id_solic]
            self._status(solic, "REJEITADA")
            self._end_rec(self.recs[solic["idRec"]], "REJEITADA", code=code, reason=reason)

    def activate_cobr(self, txid):
        """The payer's PSP accepted the charge: first attempt scheduled (AGND)."""
        with self.lock:
            cobr = self.cobrs[txid]
            if cobr["status"] != "CRIADA":
                return
            due = datetime.date.fromisoformat(cobr["calendario"]["dataDeVencimento"])
            day = next_business_day(due) if cobr.get("ajusteDiaUtil") else due
            self._status(cobr, "ATIVA")
            self._attempt(cobr, day, "AGND")
            self._notify_cobr(cobr)

    def _pending_attempt(self, cobr):
        for attempt in cobr["tentativas"]:
            if attempt["status"] in PENDING_ATTEMPT:
                return attempt
        raise ValueError(f"cobr {cobr['txid']} has no scheduled attempt")

    def pay_cobr(self, txid):
        """The scheduled attempt settles: charge CONCLUIDA, its Pix notified to ``/cobr``."""
        with self.lock:
            cobr = self.cobrs[txid]
            attempt = self._pending_attempt(cobr)
            rec = self.recs[cobr["idRec"]]
            ceiling = self.payer_maximum.get(rec["idRec"])
            if ceiling and Decimal(cobr["valor"]["original"]) > Decimal(ceiling):
                return self.fail_cobr_attempt(txid, "AM02", "Valor acima do máximo do pagador")
            self._status(attempt, "PAGA")
            pix = {
                "endToEndId": attempt["endToEndId"],
                "txid": txid,
                "valor": cobr["valor"]["original"],
                "horario": self.stamp(),
                "devolucoes": [],
            }
            self.pix[attempt["endToEndId"]] = dict(pix, chave=self.pix_key)
            cobr["pix"] = [self._pix_notice(pix)]
            self._status(cobr, "CONCLUIDA")
            self._notify_cobr(cobr)
            return attempt["endToEndId"]

    def fail_cobr_attempt(self, txid, code="AM02", reason="Tentativa de liquidação rejeitada"):
        """The scheduled attempt fails. A final code, or a recurrence without retries, rejects
        the charge; otherwise it stays ATIVA waiting for a ``retentativa``."""
        with self.lock:
            cobr = self.cobrs[txid]
            attempt = self._pending_attempt(cobr)
            attempt["rejeicao"] = {"codigo": code, "descricao": reason}
            self._status(attempt, "REJEITADA")
            policy = self.recs[cobr["idRec"]]["politicaRetentativa"]
            if code in FINAL_ATTEMPT_CODES or policy == "NAO_PERMITE":
                self._end_cobr(cobr, "REJEITADA", code=code, reason=reason)
            else:
                self._notify_cobr(cobr)

    def expire_cobr(self, txid):
        """No (more) attempt settled within the rules: the charge expires."""
        with self.lock:
            cobr = self.cobrs[txid]
            if cobr["status"] not in ("CRIADA", "ATIVA"):
                raise ValueError(f"cobr {txid} is {cobr['status']}")
            self._end_cobr(cobr, "EXPIRADA")

    def cancel_cobr_by_payer(self, txid, code="SLBD", reason="Cancelada pelo pagador"):
        """The payer cancels the charge (allowed until the day before the attempt)."""
        with self.lock:
            cobr = self.cobrs[txid]
            if cobr["status"] not in ("CRIADA", "ATIVA"):
                raise ValueError(f"cobr {txid} is {cobr['status']}")
            if self.today >= self._first_attempt_day(cobr):
                raise ValueError("the payer may cancel only until the day before the attempt")
            self._end_cobr(cobr, "CANCELADA", "USUARIO_PAGADOR", code, reason)

    def settle_refund(self, e2eid, refund_id, ok=True, reason="Conta do pagador encerrada"):
        """The refund settles (DEVOLVIDO) or fails (NAO_REALIZADO); notified to ``/pix``."""
        with self.lock:
            pix = self.pix[e2eid]
            refund = next(d for d in pix["devolucoes"] if d["id"] == refund_id)
            if ok:
                refund["status"] = "DEVOLVIDO"
                refund["horario"]["liquidacao"] = self.stamp()
            else:
                refund["status"] = "NAO_REALIZADO"
                refund["motivo"] = reason
            self.notify("pix", {"pix": [self._pix_notice(pix)]})
