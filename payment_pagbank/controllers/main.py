import hashlib
import hmac
import json
import logging

from werkzeug.exceptions import Forbidden

from odoo import _, http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_pagbank.models.payment_provider import redact

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

    @http.route(_webhook_url, type="http", methods=["POST"], auth="public", csrf=False)
    def pagbank_webhook(self):
        """Process a PagBank notification (an order or a charge, as in the API's answers).

        The notification must carry the `x-authenticity-token` of a PagBank provider's token,
        else it is refused (403). An authentic notification is always acknowledged, even when it
        matches no transaction, so that PagBank does not send it again and again.
        """
        payload = request.httprequest.get_data()
        received = (request.httprequest.headers.get("x-authenticity-token") or "").lower()
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
        except ValueError:
            _logger.warning("PagBank notification refused: the payload is not JSON")
            return request.make_json_response({"message": "invalid payload"}, status=400)
        if not isinstance(data, dict):
            return request.make_json_response({"message": "invalid payload"}, status=400)
        _logger.info("PagBank notification:\n%s", json.dumps(redact(data), indent=1))
        try:
            tx_sudo = (
                request.env["payment.transaction"]
                .sudo()
                ._get_tx_from_notification_data("pagbank", data)
            )
            if tx_sudo.provider_id != provider_sudo:
                raise ValidationError(_("The notification was signed by another PagBank account."))
            with request.env.cr.savepoint():
                tx_sudo._pagbank_lock()
                tx_sudo._process_notification_data(data)
        except ValidationError:
            _logger.exception("Unable to handle the PagBank notification; acknowledged anyway")
        return request.make_json_response({"message": "received"})
