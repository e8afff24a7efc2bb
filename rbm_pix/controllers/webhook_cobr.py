"""Notifications of Pix Automático cycle charges (``POST {webhookUrl}/cobr``).

The same address and authentication as the payments' route: the reverse proxy terminates
the PSP's mutual TLS, and this route accepts only calls carrying the connection's secret in
the registered address (``/rbm/pix/webhook/<connection>/<secret>/cobr``) or in the
``X-Rbm-Webhook-Secret`` header, compared in constant time.

A notification is a hint: each charge it names (``{"cobsr": [{"txid": ...}]}``) is read
back from the PSP, and what the PSP answers now is applied. A repeated, late or
out-of-order notification therefore changes nothing, and a charge in a final state stays
there. Answers: 413 for a body over ``MAX_BYTES``, 404 for an unknown connection, 401
without the secret, 400 for a body that is not ``{"cobsr": [...]}`` naming charges by
txid, 200 once read.
"""

import hmac
import json
import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

from .main import MAX_BYTES, SECRET_HEADER, _answer

_logger = logging.getLogger(__name__)

MAX_ITEMS = 1000


class RbmPixWebhookCobr(http.Controller):
    @http.route(
        [
            "/rbm/pix/webhook/<int:connection_id>/cobr",
            "/rbm/pix/webhook/<int:connection_id>/<string:token>/cobr",
        ],
        type="http",
        methods=["POST"],
        auth="public",
        csrf=False,
        save_session=False,
    )
    def rbm_pix_webhook_cobr(self, connection_id, token=None, **_kwargs):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BYTES:
            return _answer(413, "payload too large")
        connection_sudo = request.env["rbm.pix.connection"].sudo().browse(connection_id).exists()
        if not connection_sudo or not connection_sudo.active:
            return _answer(404, "unknown connection")
        received = token or httprequest.headers.get(SECRET_HEADER) or ""
        expected = connection_sudo.webhook_secret or ""
        if not (expected and hmac.compare_digest(received.encode(), expected.encode())):
            _logger.warning(
                "Pix Automático notification for connection %s refused: wrong secret",
                connection_id,
            )
            return _answer(401, "unauthorized")
        payload = httprequest.get_data(cache=False)
        if len(payload) > MAX_BYTES:
            return _answer(413, "payload too large")
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            return _answer(400, "invalid JSON")
        # applied as the system, like the cron (messages on the invoice, the fallback)
        Charge = (
            request.env["rbm.pix.cycle.charge"]
            .with_user(SUPERUSER_ID)
            .with_company(connection_sudo.company_id)
        )
        items = data.get("cobsr") if isinstance(data, dict) else None
        if (
            not isinstance(items, list)
            or len(items) > MAX_ITEMS
            or not all(Charge._check_notification_item(item) for item in items)
        ):
            return _answer(400, "invalid notification")
        charges = Charge._apply_notifications(connection_sudo, items)
        _logger.info(
            "Pix Automático notification for connection %s: %s charges, %s read back",
            connection_id,
            len(items),
            len(charges),
        )
        return _answer(200, "ok")
