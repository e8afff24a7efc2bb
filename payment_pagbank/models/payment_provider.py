import copy
import json
import logging
import time

import requests

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment.const import REPORT_REASONS_MAPPING
from odoo.addons.payment_pagbank import const

_logger = logging.getLogger(__name__)


def redact(payload):
    """Return a copy of `payload` whose secret values (card data, tokens) and personal data
    (CPF/CNPJ, email, phone, address, card holder and digits) are masked, for logs."""
    if isinstance(payload, dict):
        return {
            key: "***" if key in const.SECRET_KEYS or key in const.PERSONAL_KEYS else redact(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [redact(value) for value in payload]
    return copy.copy(payload)


class PagBankUnanswered(ValidationError):
    """PagBank did not answer (timeout, lost connection): the request may have been applied."""


class PagBankNotFound(ValidationError):
    """No such object: PagBank answered 404, or a notification matches no transaction."""


class PagBankBadData(ValidationError):
    """Data from PagBank (a notification, an answer) that is not shaped as documented."""


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    code = fields.Selection(
        selection_add=[("pagbank", "PagBank")], ondelete={"pagbank": "set default"}
    )
    pagbank_token = fields.Char(
        string="PagBank Token",
        help="The token of the PagBank account (Bearer token of the API), from the PagBank panel. "
        "It also signs the notifications PagBank sends.",
        required_if_provider="pagbank",
        groups="base.group_system",
        copy=False,
    )
    pagbank_public_key = fields.Text(
        string="PagBank Public Key",
        help="Public key used by the customer's browser to encrypt card data before it is sent "
        "to PagBank. Get it with the button once the token is set.",
        copy=False,
    )
    pagbank_boleto_due_days = fields.Integer(
        string="Boleto Due In (days)",
        help="Days from the payment request to the due date of a PagBank boleto.",
        default=3,
    )
    pagbank_pix_expiration_minutes = fields.Integer(
        string="Pix Valid For (minutes)",
        help="How long a PagBank Pix QR code can be paid.",
        default=1440,
    )

    _sql_constraints = [
        (
            "pagbank_boleto_due_days_positive",
            "CHECK(pagbank_boleto_due_days >= 1)",
            "The boleto due days must be at least one day.",
        ),
        (
            "pagbank_pix_expiration_positive",
            "CHECK(pagbank_pix_expiration_minutes >= 1)",
            "The Pix validity must be at least one minute.",
        ),
    ]

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment` to enable tokenization and refunds."""
        super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == "pagbank").update(
            {
                "support_tokenization": True,
                "support_refund": "partial",
            }
        )

    # === ACTION METHODS === #

    def action_pagbank_fetch_public_key(self):
        """Create the public key of the account at PagBank and store it on the provider."""
        self.ensure_one()
        if self.code != "pagbank":
            return False
        response = self._pagbank_make_request("/public-keys", payload={"type": "card"})
        public_key = response.get("public_key")
        if not public_key:
            raise UserError(_("PagBank answered without a public key."))
        self.pagbank_public_key = public_key
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("The public key of the PagBank account was saved."),
                "sticky": False,
            },
        }

    # === BUSINESS METHODS === #

    @api.model
    def _get_compatible_providers(self, *args, is_validation=False, report=None, **kwargs):
        """Override of `payment` to leave PagBank out of the "save a payment method" forms.

        PagBank saves a card during a charge (`card.store`), not on its own; cards are saved by
        paying with the "save my card" box ticked.
        """
        providers = super()._get_compatible_providers(
            *args, is_validation=is_validation, report=report, **kwargs
        )
        if is_validation:
            unfiltered_providers = providers
            providers = providers.filtered(lambda p: p.code != "pagbank")
            payment_utils.add_to_report(
                report,
                unfiltered_providers - providers,
                available=False,
                reason=REPORT_REASONS_MAPPING["validation_not_supported"],
            )
        return providers

    def _pagbank_get_form_method(self, payment_method):
        """ "card", "pix" or "boleto": which inline form the payment form shows."""
        return self.env["payment.transaction"]._pagbank_method_code(payment_method)

    def _get_supported_currencies(self):
        """Override of `payment` to return the supported currencies."""
        supported_currencies = super()._get_supported_currencies()
        if self.code == "pagbank":
            supported_currencies = supported_currencies.filtered(
                lambda c: c.name in const.SUPPORTED_CURRENCIES
            )
        return supported_currencies

    def _get_default_payment_method_codes(self):
        """Override of `payment` to return the default payment method codes."""
        default_codes = super()._get_default_payment_method_codes()
        if self.code != "pagbank":
            return default_codes
        return const.DEFAULT_PAYMENT_METHOD_CODES

    def _pagbank_get_api_url(self):
        """Return the base URL of the PagBank API for the provider's state.

        A provider in test mode uses the sandbox, or the URL of the system parameter
        `payment_pagbank.sandbox_api_url` when it is set; an enabled provider always uses
        production.
        """
        self.ensure_one()
        if self.state == "enabled":
            return const.API_URLS["enabled"]
        override = self.env["ir.config_parameter"].sudo().get_param(const.SANDBOX_URL_PARAM)
        return (override or const.API_URLS["test"]).rstrip("/")

    def _pagbank_get_timeout(self):
        param = self.env["ir.config_parameter"].sudo().get_param(const.TIMEOUT_PARAM)
        try:
            return float(param) if param else const.DEFAULT_TIMEOUT
        except ValueError:
            return const.DEFAULT_TIMEOUT

    def _pagbank_make_request(self, endpoint, payload=None, method="POST", idempotency_key=None):
        """Call the PagBank API and return its JSON answer.

        Every request has a timeout. Only idempotent requests are retried (a GET, or a POST with
        an `x-idempotency-key`, which PagBank answers with the first result): after a timeout, a
        lost connection or a 5xx answer, up to `const.MAX_RETRIES` times. The token and card data
        never reach the logs.

        :param str endpoint: The path of the endpoint, e.g. "/orders".
        :param dict payload: The JSON body (POST) or the query parameters (GET).
        :param str method: "POST" or "GET".
        :param str idempotency_key: The x-idempotency-key header of a creation.
        :return: The answer.
        :rtype: dict
        :raise ValidationError: On any failure, with a message for people.
        """
        self.ensure_one()
        url = f"{self._pagbank_get_api_url()}{endpoint}"
        headers = {
            "Authorization": f"Bearer {self.sudo().pagbank_token or ''}",
            "Accept": "application/json",
        }
        if idempotency_key:
            headers["x-idempotency-key"] = idempotency_key
        retryable = method == "GET" or bool(idempotency_key)
        attempts = 1 + (const.MAX_RETRIES if retryable else 0)
        timeout = self._pagbank_get_timeout()
        _logger.info("PagBank request %s %s (provider %s)", method, endpoint, self.id)
        _logger.debug(
            "PagBank request %s %s (provider %s):\n%s",
            method,
            endpoint,
            self.id,
            json.dumps(redact(payload), indent=1, ensure_ascii=False),
        )
        response = None
        for attempt in range(1, attempts + 1):
            try:
                if method == "GET":
                    response = requests.get(url, params=payload, headers=headers, timeout=timeout)
                else:
                    response = requests.post(url, json=payload, headers=headers, timeout=timeout)
            except requests.exceptions.Timeout:
                failure, timed_out = f"no answer within {timeout}s", True
            except requests.exceptions.ConnectionError:
                failure, timed_out = "unreachable", False
            else:
                if response.status_code < 500 or attempt == attempts:
                    break
                failure, timed_out = f"HTTP {response.status_code}", False
            _logger.warning(
                "PagBank %s %s: %s (attempt %s/%s)", method, endpoint, failure, attempt, attempts
            )
            if attempt < attempts:
                time.sleep(const.RETRY_BACKOFF * attempt)
                continue
            # no answer at the last attempt (a 5xx answer at the last attempt broke out above)
            if timed_out:
                message = _(
                    "PagBank did not answer within %(seconds)s seconds. Nothing is lost: the "
                    "result will arrive by notification, or can be checked later.",
                    seconds=int(timeout),
                )
            else:
                message = _("PagBank could not be reached. Please try again later.")
            raise PagBankUnanswered(message) from None
        return self._pagbank_parse_response(response, method, endpoint)

    def _pagbank_parse_response(self, response, method, endpoint):
        """Return the JSON of a successful answer, or raise its errors in plain words."""
        try:
            content = response.json()
        except ValueError:
            content = None
        if response.ok and isinstance(content, dict):
            _logger.info(
                "PagBank answer %s to %s %s: %s",
                response.status_code,
                method,
                endpoint,
                content.get("id") or "-",
            )
            _logger.debug(
                "PagBank answer %s to %s %s:\n%s",
                response.status_code,
                method,
                endpoint,
                json.dumps(redact(content), indent=1, ensure_ascii=False),
            )
            return content
        _logger.warning(
            "PagBank refused %s %s with HTTP %s: %s",
            method,
            endpoint,
            response.status_code,
            json.dumps(redact(content), ensure_ascii=False)
            if content
            else f"(not JSON, {len(response.content)} bytes)",
        )
        if response.status_code in (401, 403):
            raise ValidationError(
                _(
                    "PagBank refused the credentials of the provider %(provider)s. Check its "
                    "token and its mode (test or production).",
                    provider=self.name,
                )
            )
        if response.status_code >= 500:
            raise ValidationError(
                _(
                    "PagBank is unavailable right now (HTTP %(status)s). Please try again later.",
                    status=response.status_code,
                )
            )
        error_class = PagBankNotFound if response.status_code == 404 else ValidationError
        errors = (content if isinstance(content, dict) else {}).get("error_messages") or []
        if errors and isinstance(errors, list):
            raise error_class(
                _(
                    "PagBank refused the request: %(errors)s",
                    errors="; ".join(
                        self._pagbank_describe_error(error)
                        for error in errors
                        if isinstance(error, dict)
                    ),
                )
            )
        raise error_class(
            _(
                "PagBank refused the request (HTTP %(status)s).",
                status=response.status_code,
            )
        )

    @api.model
    def _pagbank_describe_error(self, error):
        """Describe one entry of `error_messages` (code, description, parameter_name)."""
        code = str(error.get("code") or "")
        parameter = error.get("parameter_name") or ""
        label = const.PARAMETER_LABELS.get(parameter)
        field = str(label) if label else parameter
        what = const.ERROR_CODES.get(code)
        what = str(what) if what else (error.get("description") or code)
        if field:
            return _("%(what)s: %(field)s", what=what, field=field)
        return what
