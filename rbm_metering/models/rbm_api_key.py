import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

KEY_PREFIX = "rbm"
PREFIX_LENGTH = 8


def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


class RbmApiKey(models.Model):
    """API key of the usage ingestion API. The key itself is shown once when
    it is created; only its SHA-256 is stored, with a short public prefix to
    find it."""

    _name = "rbm.api.key"
    _description = "Usage API Key"
    _order = "id desc"

    name = fields.Char(required=True, help="What uses the key (e.g. platform production).")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, readonly=True
    )
    prefix = fields.Char(readonly=True, index=True, copy=False)
    key_hash = fields.Char(readonly=True, copy=False, groups="base.group_system")
    active = fields.Boolean(default=True, readonly=True)
    revoked_date = fields.Datetime(readonly=True, copy=False)
    revoked_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    last_used = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        ("prefix_uniq", "UNIQUE(prefix)", "API key prefixes must be unique."),
    ]

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_revoke(self):
        self.filtered("active").write(
            {
                "active": False,
                "revoked_date": fields.Datetime.now(),
                "revoked_by_id": self.env.user.id,
            }
        )
        return True

    @api.model
    def action_open_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("New API Key"),
            "res_model": "rbm.api.key.wizard",
            "view_mode": "form",
            "target": "new",
        }

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    @api.model
    def _generate(self, name, company):
        """Create a key; returns (record, the clear key) — the key is never stored."""
        if not self.env.user.has_group("rbm_recurring.rbm_recurring_group_manager"):
            raise UserError(_("Only subscription administrators can create API keys."))
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        record = self.sudo().create(
            {
                "name": name,
                "company_id": company.id,
                "prefix": prefix,
                "key_hash": hash_key(key),
            }
        )
        return record.sudo(False), key

    @api.model
    def _authenticate(self, key):
        """The active key record for ``key`` (sudo), or an empty recordset."""
        parts = (key or "").split("_")
        if len(parts) < 3 or parts[0] != KEY_PREFIX:
            return self.sudo().browse()
        prefix = parts[1]
        record = self.sudo().with_context(active_test=True).search([("prefix", "=", prefix)])
        if len(record) != 1 or not hmac.compare_digest(record.key_hash or "", hash_key(key)):
            return self.sudo().browse()
        # at most once a minute, and never waiting on (or conflicting with) a
        # concurrent request of the same key: two requests updating the same row
        # would serialize every batch of a client using two connections
        if not record.last_used or record.last_used < datetime.utcnow() - timedelta(minutes=1):
            self.env.cr.execute(
                """
                UPDATE rbm_api_key SET last_used = now() AT TIME ZONE 'UTC'
                 WHERE id = (SELECT id FROM rbm_api_key WHERE id = %s
                                FOR NO KEY UPDATE SKIP LOCKED)
                """,
                [record.id],
            )
        return record
