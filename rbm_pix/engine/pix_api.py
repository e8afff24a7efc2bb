"""Client of the Banco Central's standard Pix API (``bacen/pix-api``, OpenAPI 2.9.0).

One :class:`PixClient` talks to one PSP connection (:class:`PixConnection`):

- **OAuth2 client credentials**: the token is fetched from the token URL with HTTP Basic
  client authentication, cached until ``expires_in`` minus a margin, and fetched again once
  when the API answers 401 (the call is then sent once more: a 401 means it was not processed).
- **Mutual TLS**: ``cert=(cert_file, key_file)`` and ``verify=ca_file or True`` are passed on
  every request, token included. They are never set on the session only: ``requests`` lets the
  ``REQUESTS_CA_BUNDLE`` environment variable override a session's ``verify``.
- **Timeouts** on every request.
- **Retries** (connection errors, timeouts, HTTP 500/502/503/504, exponential backoff) only
  for the calls the specification makes idempotent: ``GET``; ``PUT`` on a resource whose id
  we choose (``/cob/{txid}``, ``/cobv/{txid}``, ``/cobr/{txid}``, ``/webhook*``,
  ``/pix/{e2eid}/devolucao/{id}``); ``DELETE`` of a webhook or of a location's link.
  ``POST`` creates a resource whose id the PSP chooses (``/rec``, ``/solicrec``, ``/cobr``,
  ``/locrec``, ``retentativa``): sending it again could create a second one. ``PATCH`` is not
  retried either: the specification answers a repeated cancellation with an error and a
  repeated change with a new revision, so the caller reads the resource back and decides.
  When a retried ``PUT`` gets a 4xx after an attempt whose outcome is unknown (the first one
  may have been applied: txid or refund id "already in use"), the resource is read back and
  returned; a retried ``DELETE`` answered 404 is taken as done.
- **Errors**: RFC 7807 bodies become :class:`PixApiError` (``status``, ``type``, ``title``,
  ``detail``, ``violacoes``); its text names the offending field (``propriedade``).
- **Checks before calling**: what we send is checked against the schema rules that matter (txid,
  idRec, amounts, enums, dates, lengths); a wrong body raises :class:`PixRequestError` naming the
  field, and nothing is sent.
"""

import datetime
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import quote, urlsplit

import requests

ERROR_TYPE_PREFIX = "https://pix.bcb.gov.br/api/v2/error/"

TXID_RE = re.compile(r"[a-zA-Z0-9]{26,35}")
# R + R|N (retry policy) + participant (8) + yyyyMMdd + 11 characters = 29
ID_REC_RE = re.compile(r"R[RN][0-9A-Z]{8}\d{8}[a-zA-Z0-9]{11}")
ID_SOLIC_REC_RE = re.compile(r"[a-zA-Z0-9]{29}")
E2E_ID_RE = re.compile(r"[a-zA-Z0-9]{32}")
REFUND_ID_RE = re.compile(r"[a-zA-Z0-9]{1,35}")
AMOUNT_RE = re.compile(r"\d{1,10}\.\d{2}")
CPF_RE = re.compile(r"\d{11}")
CNPJ_RE = re.compile(r"[0-9A-Z]{14}")
ISPB_RE = re.compile(r"[0-9A-Z]{8}")
CEP_RE = re.compile(r"\d{8}")

PERIODICIDADES = ("SEMANAL", "MENSAL", "TRIMESTRAL", "SEMESTRAL", "ANUAL")
POLITICAS_RETENTATIVA = ("NAO_PERMITE", "PERMITE_3R_7D")
TIPOS_CONTA = ("CORRENTE", "POUPANCA", "PAGAMENTO")
NATUREZAS_DEVOLUCAO = ("ORIGINAL", "RETIRADA")

RETRY_STATUSES = (500, 502, 503, 504)
TXID_ALPHABET = string.ascii_letters + string.digits


class PixError(Exception):
    """Base of every error raised by this module."""


class PixApiError(PixError):
    """An error answered by the PSP (RFC 7807 body) or refused before sending.

    ``violacoes`` is a list of dicts with ``razao``, ``propriedade`` and ``valor``.
    """

    def __init__(self, status, type=None, title=None, detail=None, violacoes=None, **extra):
        self.status = status
        self.type = type or ""
        self.title = title or ""
        self.detail = detail or ""
        self.violacoes = [dict(v) for v in (violacoes or []) if isinstance(v, dict)]
        self.correlation_id = extra.get("correlationId")
        super().__init__(str(self))

    @property
    def error_name(self):
        """The error type's last segment (``CobROperacaoInvalida``)."""
        return self.type.rsplit("/", 1)[-1] if self.type else ""

    @property
    def fields(self):
        return [v.get("propriedade") for v in self.violacoes if v.get("propriedade")]

    def __str__(self):
        head = self.title or self.error_name or "Pix API error"
        if self.error_name and self.error_name not in head:
            head = f"{head} [{self.error_name}]"
        if self.status:
            head = f"{head} (HTTP {self.status})"
        parts = [head]
        if self.detail:
            parts.append(self.detail)
        for violacao in self.violacoes:
            text = violacao.get("propriedade") or "?"
            if violacao.get("razao"):
                text = f"{text}: {violacao['razao']}"
            if violacao.get("valor") not in (None, ""):
                text = f"{text} (valor: {violacao['valor']})"
            parts.append(text)
        return " — ".join(parts)


class PixRequestError(PixApiError, ValueError):
    """What we were about to send breaks the specification; nothing was sent."""

    def __init__(self, violacoes):
        super().__init__(
            None,
            title="Pix request refused before sending",
            violacoes=violacoes,
        )


class PixConnectionError(PixError):
    """The PSP could not be reached (network, TLS handshake, timeout) after the retries."""


@dataclass
class PixConnection:
    """One PSP connection: where, who we are, and how patient to be."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    cert_file: str
    key_file: str
    ca_file: str | None = None
    scope: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.5
    token_margin: float = 60.0


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def make_txid(prefix="", length=35):
    """A new txid (``[a-zA-Z0-9]{26,35}``): ``prefix`` then random letters and digits."""
    if not 26 <= length <= 35:
        raise ValueError("a txid has 26 to 35 characters")
    if prefix and not re.fullmatch(r"[a-zA-Z0-9]*", prefix):
        raise ValueError("a txid prefix may only hold letters and digits")
    if len(prefix) > length - 16:
        raise ValueError("a txid prefix leaves at least 16 random characters")
    tail = "".join(secrets.choice(TXID_ALPHABET) for _ in range(length - len(prefix)))
    return prefix + tail


def make_refund_id(prefix="D", length=35):
    """A new refund id for ``PUT /pix/{e2eid}/devolucao/{id}`` (``[a-zA-Z0-9]{1,35}``)."""
    tail = "".join(secrets.choice(TXID_ALPHABET) for _ in range(length - len(prefix)))
    return prefix + tail


def format_amount(value):
    """An amount as the specification writes it: ``"1234.50"`` (``\\d{1,10}\\.\\d{2}``)."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    text = f"{amount:.2f}"
    if not AMOUNT_RE.fullmatch(text):
        raise ValueError(f"amount out of the Pix API's range: {value!r}")
    return text


def _jsonable(value):
    """Dates as ISO text, Decimals as amounts; everything else unchanged."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format_amount(value)
    return value


# ---------------------------------------------------------------------------
# checks of what we send
# ---------------------------------------------------------------------------


class _Check:
    """Collects violations ``{razao, propriedade, valor}`` on one body."""

    def __init__(self, body, root):
        self.body = body if isinstance(body, dict) else {}
        self.root = root
        self.violacoes = []
        if not isinstance(body, dict):
            self.fail(root, "deve ser um objeto JSON", body)

    def _walk(self, path):
        node = self.body
        for key in path.split("."):
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            elif isinstance(node, dict) and key in node:
                node = node[key]
            else:
                return False, None
        return True, node

    def get(self, path):
        return self._walk(path)[1]

    def has(self, path):
        return self._walk(path)[0]

    def fail(self, path, razao, valor=None):
        propriedade = f"{self.root}.{path}" if path != self.root else path
        self.violacoes.append(
            {
                "razao": razao,
                "propriedade": propriedade,
                "valor": "" if valor is None else str(valor),
            }
        )

    def required(self, *paths):
        for path in paths:
            if not self.has(path) or self.get(path) in (None, ""):
                self.fail(path, "campo obrigatório ausente")

    def object(self, path, required=False):
        if not self.has(path):
            if required:
                self.fail(path, "campo obrigatório ausente")
            return False
        if not isinstance(self.get(path), dict):
            self.fail(path, "deve ser um objeto", self.get(path))
            return False
        return True

    def text(self, path, max_length=None, pattern=None, required=False, choices=None):
        if not self.has(path):
            if required:
                self.fail(path, "campo obrigatório ausente")
            return
        value = self.get(path)
        if not isinstance(value, str):
            self.fail(path, "deve ser um texto", value)
        elif required and not value:
            self.fail(path, "campo obrigatório vazio")
        elif max_length is not None and len(value) > max_length:
            self.fail(path, f"tamanho máximo {max_length} caracteres", value)
        elif pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"não respeita o formato {pattern.pattern}", value)
        elif choices is not None and value not in choices:
            self.fail(path, f"valor fora da lista: {', '.join(choices)}", value)

    def amount(self, path, required=False, positive=True):
        self.text(path, pattern=AMOUNT_RE, required=required)
        value = self.get(path)
        if positive and isinstance(value, str) and AMOUNT_RE.fullmatch(value):
            if Decimal(value) <= 0:
                self.fail(path, "deve ser maior que zero", value)

    def date(self, path, required=False):
        self.text(path, required=required)
        value = self.get(path)
        if isinstance(value, str) and value:
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError
                return datetime.date.fromisoformat(value)
            except ValueError:
                self.fail(path, "data inválida (AAAA-MM-DD)", value)
        return None

    def datetime(self, path, required=False):
        self.text(path, required=required)
        value = self.get(path)
        if isinstance(value, str) and value:
            try:
                if "T" not in value:
                    raise ValueError
                datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.fail(path, "data e hora inválidas (RFC 3339)", value)

    def integer(self, path, minimum=None, maximum=None, required=False):
        if not self.has(path):
            if required:
                self.fail(path, "campo obrigatório ausente")
            return
        value = self.get(path)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, "deve ser um número inteiro", value)
        elif minimum is not None and value < minimum:
            self.fail(path, f"deve ser no mínimo {minimum}", value)
        elif maximum is not None and value > maximum:
            self.fail(path, f"deve ser no máximo {maximum}", value)

    def person(self, path, name_length, required=False, name_required=True):
        if not self.object(path, required=required):
            return
        has_cpf, has_cnpj = self.has(f"{path}.cpf"), self.has(f"{path}.cnpj")
        if has_cpf and has_cnpj:
            self.fail(path, "informe cpf ou cnpj, não ambos")
        elif not has_cpf and not has_cnpj:
            self.fail(path, "informe cpf ou cnpj")
        self.text(f"{path}.cpf", pattern=CPF_RE)
        self.text(f"{path}.cnpj", pattern=CNPJ_RE)
        self.text(f"{path}.nome", max_length=name_length, required=name_required)

    def address(self, path):
        self.text(f"{path}.email", max_length=None)
        self.text(f"{path}.logradouro", max_length=200)
        self.text(f"{path}.cidade", max_length=200)
        self.text(f"{path}.uf", max_length=2)
        self.text(f"{path}.cep", pattern=CEP_RE)

    def only(self, allowed):
        for key in self.body:
            if key not in allowed:
                self.fail(key, "campo não previsto nesta operação", self.body[key])

    def raise_if_any(self):
        if self.violacoes:
            raise PixRequestError(self.violacoes)


def _check_param(name, value, pattern):
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PixRequestError(
            [
                {
                    "razao": f"não respeita o formato {pattern.pattern}",
                    "propriedade": name,
                    "valor": str(value),
                }
            ]
        )


def check_rec(body):
    c = _Check(body, "rec")
    if c.object("vinculo", required=True):
        c.text("vinculo.contrato", max_length=35, required=True)
        c.text("vinculo.objeto", max_length=35)
        c.person("vinculo.devedor", 140, required=True)
    if c.object("calendario", required=True):
        start = c.date("calendario.dataInicial", required=True)
        end = c.date("calendario.dataFinal")
        if start and end and end < start:
            c.fail("calendario.dataFinal", "anterior a calendario.dataInicial", end)
        c.text("calendario.periodicidade", required=True, choices=PERIODICIDADES)
    if c.object("valor"):
        c.amount("valor.valorRec")
        c.amount("valor.valorMinimoRecebedor")
        if c.has("valor.valorRec") and c.has("valor.valorMinimoRecebedor"):
            c.fail("valor", "valorRec e valorMinimoRecebedor não podem ser informados juntos")
    if c.object("recebedor"):
        c.text("recebedor.convenio", max_length=60)
    c.text("politicaRetentativa", required=True, choices=POLITICAS_RETENTATIVA)
    c.integer("loc", minimum=0)
    if c.object("ativacao") and c.object("ativacao.dadosJornada"):
        c.text("ativacao.dadosJornada.txid", pattern=TXID_RE, required=True)
    c.raise_if_any()


def check_rec_patch(body):
    c = _Check(body, "rec")
    c.only(("status", "vinculo", "loc", "calendario", "ativacao"))
    c.text("status", choices=("CANCELADA",))
    if c.object("vinculo") and c.object("vinculo.devedor"):
        c.text("vinculo.devedor.nome", max_length=140, required=True)
    c.integer("loc", minimum=0)
    if c.object("calendario"):
        c.date("calendario.dataInicial")
    if c.object("ativacao") and c.object("ativacao.dadosJornada"):
        c.text("ativacao.dadosJornada.txid", pattern=TXID_RE, required=True)
    c.raise_if_any()


def check_solicrec(body):
    c = _Check(body, "solicrec")
    c.text("idRec", pattern=ID_REC_RE, required=True)
    if c.object("calendario", required=True):
        c.datetime("calendario.dataExpiracaoSolicitacao", required=True)
    if c.object("destinatario", required=True):
        c.text("destinatario.conta", max_length=20, required=True)
        c.text("destinatario.ispbParticipante", pattern=ISPB_RE, required=True)
        c.text("destinatario.agencia", max_length=4)
        c.person("destinatario", None, required=True, name_required=False)
    c.raise_if_any()


def check_status_cancel(body, root):
    c = _Check(body, root)
    c.only(("status",))
    c.text("status", required=True, choices=("CANCELADA",))
    c.raise_if_any()


def check_cobr(body):
    c = _Check(body, "cobr")
    c.text("idRec", pattern=ID_REC_RE, required=True)
    c.text("infoAdicional", max_length=140)
    if c.object("calendario", required=True):
        c.date("calendario.dataDeVencimento", required=True)
    if c.object("valor", required=True):
        c.amount("valor.original", required=True)
    if not c.has("ajusteDiaUtil"):
        c.fail("ajusteDiaUtil", "campo obrigatório ausente")
    elif not isinstance(c.get("ajusteDiaUtil"), bool):
        c.fail("ajusteDiaUtil", "deve ser true ou false", c.get("ajusteDiaUtil"))
    if c.object("recebedor", required=True):
        c.text("recebedor.conta", max_length=20, required=True)
        c.text("recebedor.tipoConta", required=True, choices=TIPOS_CONTA)
        c.text("recebedor.agencia", max_length=4)
    if c.object("devedor"):
        for key in ("cpf", "cnpj", "nome"):
            if c.has(f"devedor.{key}"):
                c.fail(
                    f"devedor.{key}",
                    "o pagador de uma cobrança recorrente vem da recorrência (idRec)",
                    c.get(f"devedor.{key}"),
                )
        c.address("devedor")
    c.raise_if_any()


def _check_cob_common(c, kind, create):
    c.text("chave", max_length=77, required=create)
    c.text("solicitacaoPagador", max_length=140)
    if c.has("infoAdicionais"):
        infos = c.get("infoAdicionais")
        if not isinstance(infos, list) or len(infos) > 50:
            c.fail("infoAdicionais", "lista de no máximo 50 itens", infos)
        else:
            for index, _info in enumerate(infos):
                c.text(f"infoAdicionais.{index}.nome", max_length=50, required=True)
                c.text(f"infoAdicionais.{index}.valor", max_length=200, required=True)
    if c.object("loc"):
        c.integer("loc.id", minimum=0, required=True)
    if c.has("status"):
        c.text("status", choices=("REMOVIDA_PELO_USUARIO_RECEBEDOR",))
        if create:
            c.fail("status", f"não se informa status ao criar uma {kind}")
        elif len(c.body) > 1:
            c.fail("status", "a remoção não pode vir com outras alterações")


def check_cob(body, create=True):
    c = _Check(body, "cob")
    if c.object("calendario", required=create):
        c.integer("calendario.expiracao", minimum=1)
    c.person("devedor", 200)
    if c.object("valor", required=create):
        c.amount("valor.original", required=create)
        c.integer("valor.modalidadeAlteracao", minimum=0, maximum=1)
    _check_cob_common(c, "cob", create)
    c.raise_if_any()


def check_cobv(body, create=True):
    c = _Check(body, "cobv")
    due = None
    if c.object("calendario", required=create):
        due = c.date("calendario.dataDeVencimento", required=True)
        c.integer("calendario.validadeAposVencimento", minimum=0)
    if c.has("devedor") or create:
        c.person("devedor", 200, required=create)
        c.address("devedor")
    if c.object("valor", required=create):
        c.amount("valor.original", required=create)
        for key, top in (("multa", 2), ("juros", 8), ("abatimento", 2)):
            if c.object(f"valor.{key}"):
                c.integer(f"valor.{key}.modalidade", minimum=1, maximum=top, required=True)
                c.amount(f"valor.{key}.valorPerc", required=True)
        if c.object("valor.desconto"):
            c.integer("valor.desconto.modalidade", minimum=1, maximum=6, required=True)
            modalidade = c.get("valor.desconto.modalidade")
            fixed = c.get("valor.desconto.descontoDataFixa")
            if modalidade in (1, 2):
                if c.has("valor.desconto.valorPerc"):
                    c.fail("valor.desconto.valorPerc", "não se usa com as modalidades 1 e 2")
                if not isinstance(fixed, list) or not 1 <= len(fixed) <= 3:
                    c.fail("valor.desconto.descontoDataFixa", "de 1 a 3 datas (modalidades 1 e 2)")
                else:
                    for index, _item in enumerate(fixed):
                        path = f"valor.desconto.descontoDataFixa.{index}"
                        when = c.date(f"{path}.data", required=True)
                        c.amount(f"{path}.valorPerc", required=True)
                        if when and due and when > due:
                            c.fail(f"{path}.data", "posterior ao vencimento", when)
            elif isinstance(modalidade, int):
                c.amount("valor.desconto.valorPerc", required=True)
                if c.has("valor.desconto.descontoDataFixa"):
                    c.fail("valor.desconto.descontoDataFixa", "só nas modalidades 1 e 2")
    _check_cob_common(c, "cobv", create)
    c.raise_if_any()


def check_devolucao(body):
    c = _Check(body, "devolucao")
    c.amount("valor", required=True)
    c.text("natureza", choices=NATUREZAS_DEVOLUCAO)
    c.text("descricao", max_length=140)
    c.raise_if_any()


def check_webhook_url(url):
    parts = urlsplit(url) if isinstance(url, str) else None
    if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
        raise PixRequestError(
            [{"razao": "URL absoluta inválida", "propriedade": "webhookUrl", "valor": str(url)}]
        )


# ---------------------------------------------------------------------------
# the client
# ---------------------------------------------------------------------------


class PixClient:
    """Calls of the standard Pix API on one PSP connection."""

    def __init__(self, connection, session=None, sleep=time.sleep, clock=time.monotonic):
        self.connection = connection
        self.session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._token = None
        self._token_expiry = 0.0
        self._lock = threading.Lock()
        self.token_requests = 0

    # -- transport ---------------------------------------------------------

    def _tls(self):
        conn = self.connection
        return {
            "cert": (conn.cert_file, conn.key_file),
            "verify": conn.ca_file or True,
            "timeout": (conn.connect_timeout, conn.read_timeout),
        }

    def access_token(self, force=False):
        """The cached bearer token, fetched when missing, expired or ``force``."""
        with self._lock:
            if not force and self._token and self._clock() < self._token_expiry:
                return self._token
            conn = self.connection
            data = {"grant_type": "client_credentials"}
            if conn.scope:
                data["scope"] = conn.scope
            self.token_requests += 1
            response = self._with_retries(
                lambda: self.session.post(
                    conn.token_url,
                    data=data,
                    auth=(conn.client_id, conn.client_secret),
                    headers={"Accept": "application/json"},
                    **self._tls(),
                ),
                retry=True,
            )
            if response.status_code != 200:
                raise self._token_error(response)
            try:
                payload = response.json()
                token = payload["access_token"]
                lifetime = float(payload.get("expires_in") or 0)
            except (ValueError, KeyError, TypeError) as exc:
                raise PixApiError(
                    response.status_code, title="Invalid OAuth2 token response"
                ) from exc
            margin = min(conn.token_margin, lifetime / 2)
            self._token = token
            self._token_expiry = self._clock() + lifetime - margin
            return token

    def _invalidate_token(self, token):
        with self._lock:
            if self._token == token:
                self._token = None

    @staticmethod
    def _token_error(response):
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        return PixApiError(
            response.status_code,
            type=payload.get("error") or "oauth2",
            title=payload.get("error_description") or "OAuth2 token refused",
            detail="" if payload else response.text[:300],
        )

    def _with_retries(self, send, retry, on_ambiguous=None):
        attempts = 1 + (max(self.connection.retries, 0) if retry else 0)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                response = send()
            except requests.exceptions.SSLError as exc:
                # a certificate problem does not heal by itself
                raise PixConnectionError(f"TLS handshake with the PSP failed: {exc}") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise PixConnectionError(f"PSP unreachable: {exc}") from exc
                if on_ambiguous:
                    on_ambiguous()
                self._sleep(self.connection.backoff * 2**attempt)
                continue
            if response.status_code in RETRY_STATUSES and not last:
                if on_ambiguous:
                    on_ambiguous()
                self._sleep(self._retry_delay(response, attempt))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, response, attempt):
        delay = self.connection.backoff * 2**attempt
        after = response.headers.get("Retry-After", "")
        if after.isdigit():
            delay = max(delay, min(int(after), 30))
        return delay

    def _send(self, method, url, body, params):
        token = self.access_token()
        kwargs = dict(self._tls(), params=params, headers={"Accept": "application/json"})
        if body is not None:
            kwargs["json"] = body
        response = self.session.request(method, url, **kwargs, auth=_Bearer(token))
        if response.status_code == 401:
            self._invalidate_token(token)
            token = self.access_token(force=True)
            response = self.session.request(method, url, **kwargs, auth=_Bearer(token))
        return response

    def request(self, method, path, body=None, params=None, retry=None):
        """Send one call; answer the decoded JSON (``None`` for an empty body).

        ``retry`` defaults to the method's idempotency (GET, PUT, DELETE).
        """
        method = method.upper()
        if retry is None:
            retry = method in ("GET", "PUT", "DELETE")
        url = self.connection.base_url.rstrip("/") + path
        ambiguous = []
        response = self._with_retries(
            lambda: self._send(method, url, body, params),
            retry=retry,
            on_ambiguous=lambda: ambiguous.append(True),
        )
        status = response.status_code
        if ambiguous and 400 <= status < 500:
            if method == "DELETE" and status == 404:
                return None
            if method == "PUT":
                try:
                    return self.request("GET", path)
                except PixError:
                    pass
        if status >= 400:
            raise self._api_error(response)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise PixApiError(status, title="PSP answered a body that is not JSON") from exc

    @staticmethod
    def _api_error(response):
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and ("type" in payload or "title" in payload):
            return PixApiError(
                payload.get("status") or response.status_code,
                type=payload.get("type"),
                title=payload.get("title"),
                detail=payload.get("detail"),
                violacoes=payload.get("violacoes"),
                correlationId=payload.get("correlationId"),
            )
        return PixApiError(
            response.status_code, title=response.reason or "HTTP error", detail=response.text[:300]
        )

    # -- cob / cobv --------------------------------------------------------

    def put_cob(self, txid, body):
        _check_param("txid", txid, TXID_RE)
        body = _jsonable(body)
        check_cob(body, create=True)
        return self.request("PUT", f"/cob/{txid}", body)

    def patch_cob(self, txid, body):
        _check_param("txid", txid, TXID_RE)
        body = _jsonable(body)
        check_cob(body, create=False)
        return self.request("PATCH", f"/cob/{txid}", body)

    def get_cob(self, txid, revisao=None):
        _check_param("txid", txid, TXID_RE)
        params = {"revisao": revisao} if revisao is not None else None
        return self.request("GET", f"/cob/{txid}", params=params)

    def put_cobv(self, txid, body):
        _check_param("txid", txid, TXID_RE)
        body = _jsonable(body)
        check_cobv(body, create=True)
        return self.request("PUT", f"/cobv/{txid}", body)

    def patch_cobv(self, txid, body):
        _check_param("txid", txid, TXID_RE)
        body = _jsonable(body)
        check_cobv(body, create=False)
        return self.request("PATCH", f"/cobv/{txid}", body)

    def get_cobv(self, txid, revisao=None):
        _check_param("txid", txid, TXID_RE)
        params = {"revisao": revisao} if revisao is not None else None
        return self.request("GET", f"/cobv/{txid}", params=params)

    # -- rec / solicrec / locrec --------------------------------------------

    def post_rec(self, body):
        body = _jsonable(body)
        check_rec(body)
        return self.request("POST", "/rec", body)

    def get_rec(self, id_rec, txid=None):
        """``txid`` asks for the QR of journey 3/4 (``dadosQR``) with that charge."""
        _check_param("idRec", id_rec, ID_REC_RE)
        params = None
        if txid is not None:
            _check_param("txid", txid, TXID_RE)
            params = {"txid": txid}
        return self.request("GET", f"/rec/{id_rec}", params=params)

    def patch_rec(self, id_rec, body):
        _check_param("idRec", id_rec, ID_REC_RE)
        body = _jsonable(body)
        check_rec_patch(body)
        return self.request("PATCH", f"/rec/{id_rec}", body)

    def cancel_rec(self, id_rec):
        return self.patch_rec(id_rec, {"status": "CANCELADA"})

    def post_solicrec(self, body):
        body = _jsonable(body)
        check_solicrec(body)
        return self.request("POST", "/solicrec", body)

    def get_solicrec(self, id_solic_rec):
        _check_param("idSolicRec", id_solic_rec, ID_SOLIC_REC_RE)
        return self.request("GET", f"/solicrec/{id_solic_rec}")

    def patch_solicrec(self, id_solic_rec, body):
        _check_param("idSolicRec", id_solic_rec, ID_SOLIC_REC_RE)
        check_status_cancel(body, "solicrec")
        return self.request("PATCH", f"/solicrec/{id_solic_rec}", body)

    def cancel_solicrec(self, id_solic_rec):
        return self.patch_solicrec(id_solic_rec, {"status": "CANCELADA"})

    def post_locrec(self):
        return self.request("POST", "/locrec")

    def get_locrec(self, loc_id):
        return self.request("GET", f"/locrec/{int(loc_id)}")

    def unlink_locrec(self, loc_id):
        """``DELETE /locrec/{id}/idRec``: free the location from its recurrence."""
        return self.request("DELETE", f"/locrec/{int(loc_id)}/idRec")

    # -- cobr ----------------------------------------------------------------

    def put_cobr(self, txid, body):
        """Create the cycle's charge under our own txid (retried safely)."""
        _check_param("txid", txid, TXID_RE)
        body = _jsonable(body)
        check_cobr(body)
        return self.request("PUT", f"/cobr/{txid}", body)

    def post_cobr(self, body):
        """Create a cycle's charge with a txid chosen by the PSP (never retried)."""
        body = _jsonable(body)
        check_cobr(body)
        return self.request("POST", "/cobr", body)

    def get_cobr(self, txid):
        _check_param("txid", txid, TXID_RE)
        return self.request("GET", f"/cobr/{txid}")

    def patch_cobr(self, txid, body):
        _check_param("txid", txid, TXID_RE)
        check_status_cancel(body, "cobr")
        return self.request("PATCH", f"/cobr/{txid}", body)

    def cancel_cobr(self, txid):
        return self.patch_cobr(txid, {"status": "CANCELADA"})

    def retry_cobr(self, txid, when):
        """``POST /cobr/{txid}/retentativa/{data}`` (only under ``PERMITE_3R_7D``)."""
        _check_param("txid", txid, TXID_RE)
        when = _jsonable(when)
        c = _Check({"data": when}, "retentativa")
        c.date("data", required=True)
        c.raise_if_any()
        return self.request("POST", f"/cobr/{txid}/retentativa/{when}")

    # -- webhooks --------------------------------------------------------------

    def put_webhook(self, chave, url):
        self._check_chave(chave)
        check_webhook_url(url)
        return self.request("PUT", f"/webhook/{quote(chave, safe='')}", {"webhookUrl": url})

    def get_webhook(self, chave):
        self._check_chave(chave)
        return self.request("GET", f"/webhook/{quote(chave, safe='')}")

    def delete_webhook(self, chave):
        self._check_chave(chave)
        return self.request("DELETE", f"/webhook/{quote(chave, safe='')}")

    def put_webhookrec(self, url):
        check_webhook_url(url)
        return self.request("PUT", "/webhookrec", {"webhookUrl": url})

    def get_webhookrec(self):
        return self.request("GET", "/webhookrec")

    def delete_webhookrec(self):
        return self.request("DELETE", "/webhookrec")

    def put_webhookcobr(self, url):
        check_webhook_url(url)
        return self.request("PUT", "/webhookcobr", {"webhookUrl": url})

    def get_webhookcobr(self):
        return self.request("GET", "/webhookcobr")

    def delete_webhookcobr(self):
        return self.request("DELETE", "/webhookcobr")

    @staticmethod
    def _check_chave(chave):
        if not isinstance(chave, str) or not 0 < len(chave) <= 77:
            raise PixRequestError(
                [{"razao": "de 1 a 77 caracteres", "propriedade": "chave", "valor": str(chave)}]
            )

    # -- pix / refunds -----------------------------------------------------------

    def get_pix(self, e2eid):
        _check_param("e2eid", e2eid, E2E_ID_RE)
        return self.request("GET", f"/pix/{e2eid}")

    def put_devolucao(self, e2eid, refund_id, body):
        _check_param("e2eid", e2eid, E2E_ID_RE)
        _check_param("id", refund_id, REFUND_ID_RE)
        body = _jsonable(body)
        check_devolucao(body)
        return self.request("PUT", f"/pix/{e2eid}/devolucao/{refund_id}", body)

    def get_devolucao(self, e2eid, refund_id):
        _check_param("e2eid", e2eid, E2E_ID_RE)
        _check_param("id", refund_id, REFUND_ID_RE)
        return self.request("GET", f"/pix/{e2eid}/devolucao/{refund_id}")


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request
