"""Notifications of Pix Automático authorizations (``POST {webhookUrl}/rec``).

Same authentication as the payments' route (:mod:`.main`): mutual TLS terminated at the
reverse proxy, and the connection's secret in the registered address or in the
``X-Rbm-Webhook-Secret`` header, compared in constant time. A notification is a hint: each
recurrence it names is read back from the PSP (``GET /rec/{idRec}``) and its status applied,
so a repeated, late or forged-but-authenticated body cannot move an authorization anywhere
the PSP does not report.

Answers: 413, 404, 401 and 400 as the payments' route; 200 once read.
"""

import logging

from odoo import http
from odoo.http import request

from .main import _answer, _read_notification

_logger = logging.getLogger(__name__)

MAX_ITEMS = 1000


class RbmPixWebhookRec(http.Controller):
    @http.route(
        [
            "/rbm/pix/webhook/<int:connection_id>/rec",
            "/rbm/pix/webhook/<int:connection_id>/<string:token>/rec",
        ],
        type="http",
        methods=["POST"],
        auth="public",
        csrf=False,
        save_session=False,
    )
    def rbm_pix_webhook_rec(self, connection_id, token=None, **_kwargs):
        connection_sudo, data = _read_notification(connection_id, token)
        if connection_sudo is None:
            return data
        items = data.get("recs") if isinstance(data, dict) else None
        if (
            not isinstance(items, list)
            or len(items) > MAX_ITEMS
            or not all(
                isinstance(item, dict) and isinstance(item.get("idRec"), str) for item in items
            )
        ):
            return _answer(400, "invalid notification")
        Authorization = (
            request.env["rbm.pix.authorization"].sudo().with_company(connection_sudo.company_id)
        )
        read = Authorization._apply_notifications(connection_sudo, items)
        _logger.info(
            "Pix Automático notification for connection %s: %s recurrences, %s known",
            connection_id,
            len(items),
            len(read),
        )
        return _answer(200, "ok")
