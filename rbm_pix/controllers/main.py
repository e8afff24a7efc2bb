"""Notifications of the PSP (``POST {webhookUrl}/pix``).

PSPs require mutual TLS on the notification address: the reverse proxy in front of Odoo
terminates it (it asks for and checks the PSP's client certificate) and forwards the
request. This route then accepts only the calls that carry the connection's secret in the
registered address (``/rbm/pix/webhook/<connection>/<secret>/pix``) or in the
``X-Rbm-Webhook-Secret`` header, compared in constant time.

Answers: 413 for a body over ``MAX_BYTES``, 404 for an unknown connection, 401 without
the secret, 400 for a body that is not ``{"pix": [...]}`` with readable payments, 200
once applied. A payment is applied once (its end-to-end id), so a repeated or late
notification changes nothing.
"""

import hmac
import json
import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024
SECRET_HEADER = "X-Rbm-Webhook-Secret"


class RbmPixWebhook(http.Controller):
    @http.route(
        [
            "/rbm/pix/webhook/<int:connection_id>/pix",
            "/rbm/pix/webhook/<int:connection_id>/<string:token>/pix",
        ],
        type="http",
        methods=["POST"],
        auth="public",
        csrf=False,
        save_session=False,
    )
    def rbm_pix_webhook(self, connection_id, token=None, **_kwargs):
        connection_sudo, data = _read_notification(connection_id, token)
        if connection_sudo is None:
            return data
        Charge = request.env["rbm.pix.charge"].sudo().with_company(connection_sudo.company_id)
        items = data.get("pix") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(
            Charge._check_notification_item(item) for item in items
        ):
            return _answer(400, "invalid notification")
        paid = Charge._apply_notifications(connection_sudo, items)
        _logger.info(
            "Pix notification for connection %s: %s payments, %s applied now",
            connection_id,
            len(items),
            len(paid),
        )
        return _answer(200, "ok")


def _read_notification(connection_id, token):
    """Check a notification's size and secret and decode its JSON body: answer
    ``(connection as sudo, data)``, or ``(None, the HTTP answer of the refusal)``."""
    httprequest = request.httprequest
    if (httprequest.content_length or 0) > MAX_BYTES:
        return None, _answer(413, "payload too large")
    connection_sudo = request.env["rbm.pix.connection"].sudo().browse(connection_id).exists()
    if not connection_sudo or not connection_sudo.active:
        return None, _answer(404, "unknown connection")
    received = token or httprequest.headers.get(SECRET_HEADER) or ""
    expected = connection_sudo.webhook_secret or ""
    if not (expected and hmac.compare_digest(received.encode(), expected.encode())):
        _logger.warning("Pix notification for connection %s refused: wrong secret", connection_id)
        return None, _answer(401, "unauthorized")
    payload = httprequest.get_data(cache=False)
    if len(payload) > MAX_BYTES:
        return None, _answer(413, "payload too large")
    try:
        return connection_sudo, json.loads(payload)
    except (ValueError, RecursionError):
        return None, _answer(400, "invalid JSON")


def _answer(status, text):
    return request.make_response(
        text, headers=[("Content-Type", "text/plain; charset=utf-8")], status=status
    )
