import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.rbm_recurring.tools import check_staff_access

KEY_PREFIX = "rbm"
PREFIX_LENGTH = 8
# set when a key is created or revoked, and by the API's own bookkeeping only
PROTECTED_FIELDS = (
    "company_id",
    "prefix",
    "key_hash",
    "active",
    "revoked_date",
    "revoked_by_id",
    "last_used",
)


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
    # CRUD METHODS
    # ------------------------------------------------------------

    def write(self, vals):
        """Only the name changes after creation: the company, the secret and
        the state are set when the key is created or revoked (revocation is
        final)."""
        protected = [name for name in PROTECTED_FIELDS if name in vals]
        if protected:
            field = self._fields[protected[0]]
            raise UserError(
                _(
                    "API key %(key)s: the field %(field)s cannot be changed; a key is "
                    "revoked with Revoke, and a revoked key cannot be made valid again "
                    "(create a new key).",
                    key=", ".join(self.mapped("display_name")),
                    field=field._description_string(self.env),
                )
            )
        return super().write(vals)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_revoke(self):
        self.check_access("write")
        keys = self.filtered("active")
        super(RbmApiKey, keys).write(
            {
                "active": False,
                "revoked_date": fields.Datetime.now(),
                "revoked_by_id": self.env.user.id,
            }
        )
        return True

    def action_archive(self):
        return self.action_revoke()

    def action_unarchive(self):
        raise UserError(
            _(
                "API key %(key)s: a revoked key cannot be made valid again (create a new key).",
                key=", ".join(self.mapped("display_name")),
            )
        )

    def action_open_wizard(self):
        """The New API Key wizard; a list header button, called on no records."""
        check_staff_access(self, "read")
        return {
            "type": "ir.actions.act_window",
            "name": _("New API Key"),
            "res_model": "rbm.api.key.wizard",
            "views": [(False, "form")],
            "target": "new",
        }

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    @api.model
    def _generate(self, name, company):
        """Create a key; returns (record, the clear key) — the key is never stored.

        Only subscription administrators, for a company they may access; the
        API's technical user gets access to the company (it ingests the
        usage sent with the key)."""
        if not self.env.user.has_group("rbm_recurring.rbm_recurring_group_manager"):
            raise UserError(_("Only subscription administrators can create API keys."))
        company.ensure_one()
        if not self.env.su and company not in self.env.user.company_ids:
            raise AccessError(
                _(
                    "API key %(name)s: you cannot create a key for the company %(company)s, "
                    "which you may not access.",
                    name=name,
                    company=company.sudo().display_name,
                )
            )
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        record_sudo = self.sudo().create(
            {
                "name": name,
                "company_id": company.id,
                "prefix": prefix,
                "key_hash": hash_key(key),
            }
        )
        user_sudo = self._get_api_user().sudo()
        if company not in user_sudo.company_ids:
            user_sudo.company_ids = [Command.link(company.id)]
        return record_sudo.sudo(False), key

    @api.model
    def _get_api_user(self):
        """The technical user the API ingests usage as (not an administrator:
        it may only create usage events)."""
        return self.env.ref("rbm_metering.rbm_usage_api_user")

    @api.model
    def _authenticate(self, key):
        """The active key record for ``key`` (sudo), or an empty recordset."""
        parts = (key or "").split("_")
        if len(parts) < 3 or parts[0] != KEY_PREFIX:
            return self.sudo().browse()
        prefix = parts[1]
        if len(prefix) != PREFIX_LENGTH or not all(c in "0123456789abcdef" for c in prefix):
            return self.sudo().browse()
        key_sudo = self.sudo().with_context(active_test=True).search([("prefix", "=", prefix)])
        if len(key_sudo) != 1 or not hmac.compare_digest(key_sudo.key_hash or "", hash_key(key)):
            return self.sudo().browse()
        # at most once a minute, and never waiting on (or conflicting with) a
        # concurrent request of the same key: two requests updating the same row
        # would serialize every batch of a client using two connections
        if not key_sudo.last_used or key_sudo.last_used < datetime.utcnow() - timedelta(minutes=1):
            self.env.cr.execute(
                """
                UPDATE rbm_api_key SET last_used = now() AT TIME ZONE 'UTC'
                 WHERE id = (SELECT id FROM rbm_api_key WHERE id = %s
                                FOR NO KEY UPDATE SKIP LOCKED)
                """,
                [key_sudo.id],
            )
        return key_sudo
