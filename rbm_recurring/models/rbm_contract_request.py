import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

REQUEST_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class RbmContractRequest(models.Model):
    """One customer request (change or cancellation) under its idempotency
    key: the portal form carries a fresh key, integrators send their own.
    The key is unique in the database, so a double-submitted form or a
    replayed call applies once, even when both arrive at the same moment."""

    _name = "rbm.contract.request"
    _description = "Subscription Customer Request"
    _order = "id desc"

    key = fields.Char(string="Request Key", required=True, readonly=True)
    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    kind = fields.Selection(
        [("change", "Change"), ("cancel", "Cancellation")], required=True, readonly=True
    )
    user_id = fields.Many2one("res.users", string="Requested By", readonly=True)
    change_id = fields.Many2one("rbm.contract.change", readonly=True, ondelete="set null")

    _sql_constraints = [
        ("key_uniq", "UNIQUE(key)", "This request was already submitted."),
    ]

    @api.model
    def _find(self, key, contract, kind):
        """The request already made under ``key`` (empty when none). A key is
        for one contract and one kind of request."""
        if not isinstance(key, str) or not REQUEST_KEY_RE.fullmatch(key):
            raise ValidationError(
                _(
                    "Contract %(contract)s: the request key must be 16 to 64 letters, digits, "
                    "'-' or '_' (field Request Key). On the portal, reload the page and try "
                    "again.",
                    contract=contract.display_name,
                )
            )
        done = self.search([("key", "=", key)], limit=1)
        if done and (done.contract_id != contract or done.kind != kind):
            raise ValidationError(
                _(
                    "Contract %(contract)s: the request key was already used for another "
                    "request (field Request Key).",
                    contract=contract.display_name,
                )
            )
        return done

    @api.model
    def _claim(self, key, contract, kind):
        """Record ``key`` for this request, first thing in its transaction.

        A concurrent request with the same key waits here until the first one
        ends; when it committed, PostgreSQL (REPEATABLE READ) answers with a
        serialization failure and Odoo replays the request, which then finds
        the key taken (``_find``) and returns the first one's result."""
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO rbm_contract_request
                       (key, contract_id, company_id, kind, user_id,
                        create_uid, create_date, write_uid, write_date)
                VALUES (%(key)s, %(contract)s, %(company)s, %(kind)s, %(uid)s,
                        %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC')
                ON CONFLICT (key) DO NOTHING
                RETURNING id
                """,
                key=key,
                contract=contract.id,
                company=contract.company_id.id,
                kind=kind,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            raise ValidationError(
                _(
                    "Contract %(contract)s: this request was already submitted (field Request "
                    "Key).",
                    contract=contract.display_name,
                )
            )
        return self.browse(row[0])
