import hashlib
import hmac
import json
import logging

from werkzeug.exceptions import Forbidden

from odoo import _, http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_pagbank import const
from odoo.addons.payment_pagbank.models.payment_provider import (
    PagBankBadData,
    PagBankNotFound,
    redact,
)

_logger = logging.getLogger(__name__)


def authenticity_token(token, payload):
    """The `x-authenticity-token` PagBank puts on a notification: the SHA-256 (hex) of
    `<account token>-<raw payload>` ("Confirmar autenticidade da notificação")."""
    return hashlib.sha256(token.encode() + b"-" + payload).hexdigest()


class PagBankController(http.Controller):
    _payment_url = "/payment/pagbank/payment"
    _webhook_url = "/payment/pagbank/webhook"

    @http.route(_payment_url, type="json", auth="public")
    def pagbank_payment(self, reference, access_token, encrypted_card=None, holder_name=None):
        """Send the payment of the payment form (card, Pix or boleto) to PagBank.

        :param str reference: The reference of the transaction.
        :param str access_token: The access token of the processing values.
        :param str encrypted_card: The card encrypted in the browser with the account's public
                                   key (card payments only).
        :param str holder_name: The card holder's name (card payments only).
        :return: None; the customer is then sent to the payment status page.
        """
        tx_sudo = (
            request.env["payment.transaction"]
            .sudo()
            .search([("reference", "=", reference), ("provider_code", "=", "pagbank")], limit=1)
        )
        if not tx_sudo or not payment_utils.check_access_token(
            access_token, reference, tx_sudo.partner_id.id
        ):
            raise ValidationError(_("Received tampered payment request data."))
        tx_sudo._pagbank_create_order(encrypted_card=encrypted_card, holder_name=holder_name)

    @http.route(
        _webhook_url,
        type="http",
        methods=["POST"],
        auth="public",
        csrf=False,
        max_content_length=const.NOTIFICATION_MAX_BYTES,
    )
    def pagbank_webhook(self):
        """Process a PagBank notification (an order or a charge, as in the API's answers).

        Answers, in this order of checks: 411 without a Content-Length (e.g. a chunked body), 413
        when the body is larger than `const.NOTIFICATION_MAX_BYTES` (by its Content-Length, before
        anything is read, then by what was actually read); 403
        when it does not carry the `x-authenticity-token` of a PagBank provider's token; 400 when
        it is not a JSON object shaped as PagBank documents orders and charges; 404 when it
        matches no transaction; 403 when the transaction belongs to another PagBank account; 400
        when the transaction refuses it (e.g. an order of another transaction); 200 once
        processed. Nothing is written unless it is processed.
        """
        httprequest = request.httprequest
        limit = const.NOTIFICATION_MAX_BYTES
        # The body is read only when its Content-Length is known and small: the WSGI input stream
        # then ends at that length. A chunked body (whose length is only known once read) is
        # refused, even when it also announces a Content-Length.
        if httprequest.content_length is None or httprequest.headers.get("Transfer-Encoding"):
            _logger.warning("PagBank notification refused: no Content-Length")
            return self._pagbank_answer(411, "length required")
        if httprequest.content_length > limit:
            _logger.warning(
                "PagBank notification refused: %s bytes announced", httprequest.content_length
            )
            return self._pagbank_answer(413, "payload too large")
        payload = httprequest.get_data()
        if len(payload) > limit:
            _logger.warning("PagBank notification refused: more than %s bytes", limit)
            return self._pagbank_answer(413, "payload too large")
        received = (httprequest.headers.get("x-authenticity-token") or "").lower()
        providers_sudo = (
            request.env["payment.provider"]
            .sudo()
            .search([("code", "=", "pagbank"), ("state", "!=", "disabled")])
        )
        provider_sudo = providers_sudo.filtered(
            lambda p: (
                p.pagbank_token
                and received
                and hmac.compare_digest(authenticity_token(p.pagbank_token, payload), received)
            )
        )[:1]
        if not provider_sudo:
            _logger.warning("PagBank notification refused: missing or wrong authenticity token")
            raise Forbidden()
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            _logger.warning("PagBank notification refused: the payload is not JSON")
            return self._pagbank_answer(400, "invalid payload")
        transactions_sudo = request.env["payment.transaction"].sudo()
        try:
            transactions_sudo._pagbank_check_notification_data(data)
        except PagBankBadData as error:
            _logger.warning("PagBank notification refused: %s", error)
            return self._pagbank_answer(400, "invalid payload")
        _logger.info(
            "PagBank notification for %s (reference %s)", data["id"], data.get("reference_id")
        )
        _logger.debug("PagBank notification:\n%s", json.dumps(redact(data), indent=1))
        try:
            tx_sudo = transactions_sudo._get_tx_from_notification_data("pagbank", data)
        except PagBankNotFound as error:
            _logger.warning("PagBank notification refused: %s", error)
            return self._pagbank_answer(404, "unknown reference")
        if tx_sudo.provider_id != provider_sudo:
            _logger.warning(
                "PagBank notification refused: %s was signed by another PagBank account",
                tx_sudo.reference,
            )
            return self._pagbank_answer(403, "another account")
        try:
            with request.env.cr.savepoint():
                tx_sudo._pagbank_lock()
                tx_sudo._process_notification_data(data)
        except ValidationError as error:
            _logger.warning("PagBank notification for %s refused: %s", tx_sudo.reference, error)
            return self._pagbank_answer(400, "refused")
        except (TypeError, ValueError, KeyError, AttributeError):
            # data the checks above let through but processing could not use: still the
            # sender's data, answered 4xx, and logged in full to fix the checks
            _logger.exception("PagBank notification for %s refused", tx_sudo.reference)
            return self._pagbank_answer(400, "refused")
        return self._pagbank_answer(200, "received")

    def _pagbank_answer(self, status, message):
        return request.make_json_response({"message": message}, status=status)
