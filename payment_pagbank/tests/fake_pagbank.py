"""A local HTTP server speaking the PagBank Orders API, for the tests.

Requests and answers are shaped after PagBank's API reference (developer.pagbank.com.br, v4.1):
"Criar pedido" / "Objeto Order" / "Objeto Charge" (POST /orders with `charges` for card and boleto
and `qr_codes` for Pix, answered 201 with the order), "Criar e pagar pedido com token PagBank"
(`card.store` -> `payment_method.card.id`, `card.id` for later charges), "Cancelar pagamento"
(POST /charges/{id}/cancel with `amount.value`, answered 201 with the charge and
`amount.summary.refunded`), "Chaves públicas" (POST /public-keys), "Códigos de status" (400 with
`error_messages` [{code 40001/40002, description, parameter_name}], 401 for a bad token),
"Motivos de compra negada" (`payment_response` code/message), "Consultar pedido" (GET
/orders/{id}, and GET /orders?reference_id=... answered with `{"orders": [...]}`, the orders of
that reference, empty when there is none) and "Webhooks" / "Confirmar
autenticidade da notificação" (the notification is the order, signed with `x-authenticity-token`
= SHA-256 of `<token>-<payload>`).

It keeps its orders in memory, honours `x-idempotency-key` (same key, same answer, nothing created
twice) and can be made slow to test timeouts.

Test card convention: the browser SDK would send RSA-encrypted card data; here `encrypted` is
"ENC-<card number>". A number ending in 0002 is declined, one ending in 0010 goes to analysis,
anything else is approved. Anything not starting with "ENC-" is refused as invalid.
"""

import hashlib
import json
import re
import threading
import time
import uuid
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

DECLINE = {"code": "20017", "message": "TRANSACAO NAO PERMITIDA - NAO TENTE NOVAMENTE"}
SUCCESS = {"code": "20000", "message": "SUCESSO"}
BRANDS = {"4": "visa", "5": "mastercard", "6": "elo", "3": "amex"}


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error(code, parameter, description):
    return {
        "error_messages": [
            {"code": code, "description": description, "parameter_name": parameter},
        ]
    }


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status = status
        self.body = body


class FakePagBank:
    def __init__(self, token):
        self.token = token
        self.orders = {}
        self.cards = {}
        self.idempotent = {}
        self.requests = []
        self.slow_requests = 0
        self.delay = 0.0
        self.unavailable_requests = 0
        self.lock = threading.RLock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- what the tests look at -------------------------------------------------------------

    def requests_to(self, method, path_prefix):
        return [
            r for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)
        ]

    def find_charge(self, charge_id):
        for order in self.orders.values():
            for charge in order.get("charges", []):
                if charge["id"] == charge_id:
                    return order, charge
        raise KeyError(charge_id)

    def notification(self, payload, token=None):
        """The body and headers of the notification PagBank POSTs for `payload`."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = hashlib.sha256((token or self.token).encode() + b"-" + body).hexdigest()
        return body, {"Content-Type": "application/json", "x-authenticity-token": signature}

    # --- what happens at PagBank after the request --------------------------------------------

    def pay(self, order_id):
        """The customer pays the Pix QR code or the boleto of the order."""
        with self.lock:
            order = self.orders[order_id]
            if order.get("qr_codes") and not order.get("charges"):
                value = order["qr_codes"][0]["amount"]["value"]
                order["charges"] = [
                    self._charge(
                        order["reference_id"],
                        value,
                        "PAID",
                        {"type": "PIX", "pix": {"end_to_end_id": f"E{uuid.uuid4().hex[:31]}"}},
                    )
                ]
            else:
                self.set_status(order_id, "PAID")
            return json.loads(json.dumps(order))

    def set_status(self, order_id, status, payment_response=None):
        with self.lock:
            order = self.orders[order_id]
            charge = order["charges"][-1]
            charge["status"] = status
            if status == "PAID":
                charge["paid_at"] = _now()
                charge["amount"]["summary"]["paid"] = charge["amount"]["value"]
            if payment_response:
                charge["payment_response"] = payment_response
            return json.loads(json.dumps(order))

    def refund_in_panel(self, charge_id, value):
        with self.lock:
            _order, charge = self.find_charge(charge_id)
            self._refund(charge, value)
            return json.loads(json.dumps(charge))

    # --- the API ----------------------------------------------------------------------------

    def handle(self, method, path, headers, body, query=None):
        self.requests.append(
            {"method": method, "path": path, "headers": headers, "body": body, "query": query or {}}
        )
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {
                "error_messages": [
                    {
                        "code": "UNAUTHORIZED",
                        "description": "Invalid credential. Review AUTHORIZATION header",
                    }
                ]
            }
        key = headers.get("x-idempotency-key")
        with self.lock:
            if self.unavailable_requests > 0:  # down before doing anything
                self.unavailable_requests -= 1
                return 503, _error("SERVICE_UNAVAILABLE", "", "Service temporarily unavailable")
            if key and (path, key) in self.idempotent:
                return self.idempotent[(path, key)]
            try:
                result = self._route(method, path, body, query or {})
            except ApiError as error:
                result = (error.status, error.body)
            if key:
                self.idempotent[(path, key)] = result
        return result

    def _route(self, method, path, body, query):
        if method == "POST" and path == "/orders":
            return 201, self._create_order(body)
        if method == "GET" and path == "/orders":
            reference = query.get("reference_id")
            if not reference:
                raise ApiError(400, _error("40001", "reference_id", "required_parameter"))
            return 200, {
                "orders": [o for o in self.orders.values() if o["reference_id"] == reference]
            }
        if method == "GET" and path.startswith("/orders/"):
            order = self.orders.get(path.split("/")[2])
            if not order:
                raise ApiError(404, _error("40004", "order_id", "not_found"))
            return 200, order
        if method == "POST" and path.startswith("/charges/") and path.endswith("/cancel"):
            return 201, self._cancel(path.split("/")[2], body)
        if method == "POST" and path == "/public-keys":
            if (body or {}).get("type") != "card":
                raise ApiError(400, _error("40002", "type", "invalid_parameter"))
            return 200, {
                "public_key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr+Zq",
                "created_at": 1,
            }
        raise ApiError(404, _error("40004", "path", "not_found"))

    def _create_order(self, body):
        body = body or {}
        for parameter in ("reference_id", "customer.name", "customer.email", "customer.tax_id"):
            value = body
            for part in parameter.split("."):
                value = (value or {}).get(part)
            if not value:
                raise ApiError(400, _error("40001", parameter, "required_parameter"))
        # a CPF (11 digits) or a CNPJ (14 characters, the first 12 letters A-Z
        # or digits since the alphanumeric CNPJ of July 2026), unmasked
        if not re.fullmatch(r"[0-9]{11}|[0-9A-Z]{12}[0-9]{2}", body["customer"]["tax_id"]):
            raise ApiError(400, _error("40002", "customer.tax_id", "invalid_parameter"))
        items_total = sum(i["unit_amount"] * i["quantity"] for i in body.get("items") or [])
        order = {
            "id": f"ORDE_{uuid.uuid4().hex.upper()}",
            "reference_id": body["reference_id"],
            "created_at": _now(),
            "customer": body["customer"],
            "items": body.get("items") or [],
            "notification_urls": body.get("notification_urls") or [],
            "links": [],
        }
        if body.get("qr_codes"):
            qr = body["qr_codes"][0]
            if qr["amount"]["value"] != items_total:
                raise ApiError(
                    400, _error("40002", "qr_codes[0].amount.value", "invalid_parameter")
                )
            qr_id = f"QRCO_{uuid.uuid4().hex.upper()}"
            order["qr_codes"] = [
                {
                    "id": qr_id,
                    "expiration_date": qr.get("expiration_date"),
                    "amount": {"value": qr["amount"]["value"]},
                    "text": "00020101021226830014br.gov.bcb.pix2561api.pagseguro.com/pix/v2/"
                    f"{qr_id}"
                    "5204899953039865802BR5913PAGBANK TESTE6009SAO PAULO62070503***6304ABCD",
                    "links": [
                        {
                            "rel": "QRCODE.PNG",
                            "href": f"https://api.pagseguro.com/qrcode/{qr_id}/png",
                            "media": "image/png",
                            "type": "GET",
                        }
                    ],
                }
            ]
            order["charges"] = []
        elif body.get("charges"):
            charge_in = body["charges"][0]
            if charge_in["amount"]["value"] != items_total:
                raise ApiError(400, _error("40002", "charges[0].amount.value", "invalid_parameter"))
            order["charges"] = [self._create_charge(body["reference_id"], charge_in)]
        self.orders[order["id"]] = order
        return order

    def _charge(self, reference, value, status, payment_method, payment_response=None):
        paid = value if status == "PAID" else 0
        charge = {
            "id": f"CHAR_{uuid.uuid4().hex.upper()}",
            "reference_id": reference,
            "status": status,
            "created_at": _now(),
            "amount": {
                "value": value,
                "currency": "BRL",
                "summary": {"total": value, "paid": paid, "refunded": 0},
            },
            "payment_response": payment_response or SUCCESS,
            "payment_method": payment_method,
            "links": [],
        }
        if status == "PAID":
            charge["paid_at"] = _now()
        return charge

    def _create_charge(self, reference, charge_in):
        method = charge_in["payment_method"]
        value = charge_in["amount"]["value"]
        if method["type"] == "CREDIT_CARD":
            card_in = method.get("card") or {}
            if card_in.get("id"):
                card = self.cards.get(card_in["id"])
                if not card:
                    raise ApiError(
                        400,
                        _error("40002", "charges[0].payment_method.card.id", "invalid_parameter"),
                    )
            elif card_in.get("encrypted"):
                encrypted = card_in["encrypted"]
                if not encrypted.startswith("ENC-") or not encrypted[4:].isdigit():
                    raise ApiError(
                        400,
                        _error(
                            "40002", "charges[0].payment_method.card.encrypted", "invalid_parameter"
                        ),
                    )
                number = encrypted[4:]
                card = {
                    "brand": BRANDS.get(number[0], "visa"),
                    "first_digits": number[:6],
                    "last_digits": number[-4:],
                    "exp_month": "12",
                    "exp_year": "2030",
                    "holder": {"name": (method.get("holder") or {}).get("name", "")},
                    "number": number,
                }
                if card_in.get("store"):
                    card["id"] = f"CARD_{uuid.uuid4().hex.upper()}"
                    self.cards[card["id"]] = card
            else:
                raise ApiError(
                    400, _error("40001", "charges[0].payment_method.card", "required_parameter")
                )
            if card["number"].endswith("0002"):
                status, response = "DECLINED", DECLINE
            elif card["number"].endswith("0010"):
                status, response = "IN_ANALYSIS", SUCCESS
            else:
                status, response = (
                    ("PAID" if method.get("capture", True) else "AUTHORIZED"),
                    SUCCESS,
                )
            public_card = {k: v for k, v in card.items() if k != "number"}
            payment_method = {
                "type": "CREDIT_CARD",
                "installments": method.get("installments", 1),
                "capture": method.get("capture", True),
                "card": public_card,
            }
            charge = self._charge(reference, value, status, payment_method, response)
            if charge_in.get("recurring"):
                charge["recurring"] = charge_in["recurring"]
            return charge
        if method["type"] == "BOLETO":
            boleto = method.get("boleto") or {}
            if not boleto.get("due_date"):
                raise ApiError(
                    400,
                    _error(
                        "40001", "charges[0].payment_method.boleto.due_date", "required_parameter"
                    ),
                )
            date.fromisoformat(boleto["due_date"])
            address = (boleto.get("holder") or {}).get("address") or {}
            if len(address.get("postal_code") or "") != 8:
                raise ApiError(
                    400,
                    _error(
                        "40002",
                        "charges[0].payment_method.boleto.holder.address.postal_code",
                        "invalid_parameter",
                    ),
                )
            barcode = f"03399853012970000035869420601010782490000{value:06d}"
            line = f"03399.85301 29700.000358 69420.601010 7 8249{value:010d}"
            payment_method = {
                "type": "BOLETO",
                "boleto": {
                    "id": str(uuid.uuid4()),
                    "barcode": barcode,
                    "formatted_barcode": line,
                    "due_date": boleto["due_date"],
                    "instruction_lines": boleto.get("instruction_lines") or {},
                    "holder": boleto.get("holder"),
                },
            }
            charge = self._charge(reference, value, "WAITING", payment_method)
            charge["links"] = [
                {
                    "rel": "SELF",
                    "href": "https://boleto.pagseguro.com.br/{}.pdf".format(
                        payment_method["boleto"]["id"]
                    ),
                    "media": "application/pdf",
                    "type": "GET",
                }
            ]
            return charge
        raise ApiError(400, _error("40002", "charges[0].payment_method.type", "invalid_parameter"))

    def _refund(self, charge, value):
        summary = charge["amount"]["summary"]
        if charge["status"] not in ("PAID", "AUTHORIZED"):
            raise ApiError(400, _error("40002", "charge_id", "invalid_parameter"))
        if (
            not isinstance(value, int)
            or value <= 0
            or value > summary["paid"] - summary["refunded"]
        ):
            raise ApiError(400, _error("40002", "amount.value", "invalid_parameter"))
        summary["refunded"] += value
        if summary["refunded"] == summary["paid"]:
            charge["status"] = "CANCELED"

    def _cancel(self, charge_id, body):
        try:
            _order, charge = self.find_charge(charge_id)
        except KeyError:
            raise ApiError(404, _error("40004", "charge_id", "not_found")) from None
        value = ((body or {}).get("amount") or {}).get("value")
        if value is None:
            raise ApiError(400, _error("40001", "amount.value", "required_parameter"))
        self._refund(charge, value)
        return charge


class _Handler(BaseHTTPRequestHandler):
    fake = None

    def log_message(self, *args):  # keep the test log clean
        pass

    def _serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path, _sep, query = self.path.partition("?")
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, answer = self.fake.handle(
            method, path, headers, body, {k: v[-1] for k, v in parse_qs(query).items()}
        )
        if self.fake.slow_requests > 0:
            self.fake.slow_requests -= 1
            time.sleep(self.fake.delay)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting

    def do_POST(self):
        self._serve("POST")

    def do_GET(self):
        self._serve("GET")
