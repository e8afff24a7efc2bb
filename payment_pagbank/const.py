"""Constants of the PagBank Orders API (developer.pagbank.com.br, API reference v4.1)."""

from odoo.tools import LazyTranslate

_lt = LazyTranslate(__name__)

API_URLS = {
    "test": "https://sandbox.api.pagseguro.com",
    "enabled": "https://api.pagseguro.com",
}

# System parameter that points a provider *in test mode* to another API base URL (a local
# server speaking the PagBank API, a proxy). Production providers always use API_URLS.
SANDBOX_URL_PARAM = "payment_pagbank.sandbox_api_url"

# Seconds to wait for PagBank; a system parameter can change it.
TIMEOUT_PARAM = "payment_pagbank.timeout"
DEFAULT_TIMEOUT = 20

# Idempotent requests (GET, and POST carrying an x-idempotency-key) are retried this many times
# after a timeout, a lost connection or a 5xx answer, waiting RETRY_BACKOFF * attempt seconds.
MAX_RETRIES = 2
RETRY_BACKOFF = 0.5

SUPPORTED_CURRENCIES = ["BRL"]

# Payment methods activated with the provider: card (and its brands), Pix and boleto.
DEFAULT_PAYMENT_METHOD_CODES = {
    "card",
    "pix",
    "boleto",
    "visa",
    "mastercard",
    "elo",
    "hipercard",
    "amex",
}

CARD_METHOD_CODES = {"card", "visa", "mastercard", "elo", "hipercard", "amex"}

# charges[].payment_method.type per Odoo payment method.
PAYMENT_METHOD_TYPES = {
    "card": "CREDIT_CARD",
    "pix": "PIX",
    "boleto": "BOLETO",
}

# charges[].payment_method.card.brand -> Odoo payment method code.
CARD_BRANDS = {
    "visa": "visa",
    "mastercard": "mastercard",
    "elo": "elo",
    "hipercard": "hipercard",
    "amex": "amex",
}

# charges[].status -> transaction state (Objeto Charge). Charges are always captured
# (`capture: true`), so an AUTHORIZED charge is only a step before PAID: pending.
CHARGE_STATUS_MAPPING = {
    "pending": ("WAITING", "IN_ANALYSIS", "AUTHORIZED"),
    "done": ("PAID",),
    "canceled": ("CANCELED",),
    "error": ("DECLINED",),
}

# payment_response.code of an approved charge ("Motivos de compra negada").
APPROVED_RESPONSE_CODE = "20000"

# error_messages[].code of a 4xx answer ("Códigos de status").
ERROR_CODES = {
    "40001": _lt("required information is missing"),
    "40002": _lt("invalid value"),
    "40003": _lt("not allowed"),
    "40004": _lt("not found"),
}

# Names of request fields, shown to the user when PagBank refuses them.
PARAMETER_LABELS = {
    "customer.tax_id": _lt("customer CPF/CNPJ"),
    "customer.email": _lt("customer email"),
    "customer.name": _lt("customer name"),
    "charges[0].payment_method.card.encrypted": _lt("card data"),
    "charges[0].payment_method.card.id": _lt("saved card"),
    "charges[0].payment_method.card.security_code": _lt("card security code"),
    "charges[0].payment_method.boleto.holder.address.postal_code": _lt("customer ZIP code"),
    "charges[0].payment_method.boleto.due_date": _lt("boleto due date"),
    "charges[0].amount.value": _lt("amount"),
    "amount.value": _lt("amount"),
}

# Keys whose values never reach the logs.
SECRET_KEYS = {"encrypted", "security_code", "cvv", "number", "token", "Authorization"}

# Keys holding personal data (CPF/CNPJ, email, phone, address, card holder and digits), masked in
# the payloads logged at DEBUG level; INFO logs name only methods, paths, references and states.
PERSONAL_KEYS = {
    "tax_id",
    "email",
    "phones",
    "address",
    "holder",
    "name",
    "first_digits",
    "last_digits",
    "exp_month",
    "exp_year",
}

# A notification body larger than this is refused (413) before it is read any further.
NOTIFICATION_MAX_BYTES = 64 * 1024

# Statuses a charge can have (Objeto Charge).
CHARGE_STATUSES = {"AUTHORIZED", "PAID", "IN_ANALYSIS", "DECLINED", "CANCELED", "WAITING"}
