from odoo import api, fields, models
from odoo.tools import format_date, sql

from odoo.addons.rbm_recurring.tools import check_staff_access

# A debit stands for its installment while it is sent, paid, or failed for
# good: an installment is sent once. Only a debit cancelled at the bank, or
# refused with a code the agreement re-presents (``retry_date`` set), lets it be
# sent again.
LIVE_DOMAIN = [
    "|",
    ("state", "in", ("sent", "paid")),
    "&",
    ("state", "=", "failed"),
    ("retry_date", "=", False),
]
LIVE_PREDICATE = "state IN ('sent', 'paid') OR (state = 'failed' AND retry_date IS NULL)"


CREATE_LIVE_INDEX = f"""
    CREATE UNIQUE INDEX rbm_debit_open_move_line_uniq
        ON rbm_debit (move_line_id)
     WHERE {LIVE_PREDICATE}
"""


class RbmDebit(models.Model):
    """One installment sent to the bank for direct debit (CNAB 150 record E),
    and what the bank answered (record F)."""

    _name = "rbm.debit"
    _description = "Direct Debit"
    _order = "due_date desc, id desc"
    _check_company_auto = True

    mandate_id = fields.Many2one(
        "rbm.debit.mandate",
        string="Mandate",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    collection_account_id = fields.Many2one(
        related="mandate_id.collection_account_id", store=True, index=True, precompute=True
    )
    company_id = fields.Many2one(
        related="mandate_id.company_id", store=True, index=True, precompute=True
    )
    partner_id = fields.Many2one(related="mandate_id.partner_id", string="Customer", store=True)
    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    move_line_id = fields.Many2one(
        "account.move.line",
        string="Installment",
        required=True,
        ondelete="restrict",
        index=True,
        readonly=True,
    )
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    amount = fields.Monetary(required=True, readonly=True)
    due_date = fields.Date(required=True, readonly=True, help="Debit date asked of the bank.")
    state = fields.Selection(
        [
            ("sent", "Sent"),
            ("paid", "Debited"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        default="sent",
        required=True,
        readonly=True,
        index=True,
    )
    attempt = fields.Integer(
        default=1,
        required=True,
        readonly=True,
        help="1 for the first request of the installment, 2 for its first re-presentation, …",
    )
    retry_date = fields.Date(
        string="Sent Again On",
        readonly=True,
        copy=False,
        help="The bank refused this debit with a code the agreement re-presents: the "
        "installment goes in the remittance of this day (or a later one).",
    )
    remittance_id = fields.Many2one("rbm.debit.file", string="Remittance", readonly=True)
    return_code = fields.Char(readonly=True)
    return_description = fields.Char(string="Bank Answer", readonly=True)
    debit_date = fields.Date(readonly=True, help="Date the bank debited the account.")
    payment_id = fields.Many2one("account.payment", readonly=True, copy=False)
    occurrence_ids = fields.One2many("rbm.debit.occurrence", "debit_id", string="File Lines")

    def init(self):
        super().init()
        # an installment is sent once, whatever runs concurrently (the index
        # of earlier versions counted every failure as final)
        self.env.cr.execute("DROP INDEX IF EXISTS rbm_debit_live_move_line_uniq")
        if not sql.index_exists(self.env.cr, "rbm_debit_open_move_line_uniq"):
            self.env.cr.execute(CREATE_LIVE_INDEX)

    @api.depends("move_id", "due_date")
    def _compute_display_name(self):
        for debit in self:
            due = format_date(self.env, debit.due_date) if debit.due_date else ""
            debit.display_name = f"{debit.move_id.name or ''} ({due})"

    def action_open_move(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.move_id._get_records_action()

    # ------------------------------------------------------------
    # BUSINESS: what the bank answers (record F)
    # ------------------------------------------------------------

    def _mark_paid(self, payment, debit_date, return_code):
        """The bank debited the account on ``debit_date``; ``payment`` books it."""
        self.write(
            {
                "state": "paid",
                "payment_id": payment.id,
                "debit_date": debit_date,
                **self._prepare_answer_vals(return_code),
            }
        )

    def _mark_failed(self, return_code, retry_date=False):
        """The bank did not debit; with a ``retry_date`` the installment is
        sent again from that day on (the debit no longer stands for it)."""
        self.write(
            {"state": "failed", "retry_date": retry_date, **self._prepare_answer_vals(return_code)}
        )

    def _mark_cancelled(self, return_code):
        """The bank cancelled the debit at the company's request."""
        self.write(
            {"state": "cancelled", "retry_date": False, **self._prepare_answer_vals(return_code)}
        )

    def _record_answer(self, return_code):
        """A later answer of the bank about a debit already answered: kept,
        the state stays."""
        self.write(self._prepare_answer_vals(return_code))

    @api.model
    def _prepare_answer_vals(self, return_code):
        """The bank's answer (engine ``ReturnCode``) as the debit keeps it."""
        return {"return_code": return_code.code, "return_description": return_code.description}

    def _company_use(self):
        """What the E record carries in its company-use field, so that the
        bank's F record names this debit."""
        self.ensure_one()
        return f"RBMD{self.id}"

    @api.model
    def _from_company_use(self, values):
        """Debit ids of company-use texts (``RBMD12`` → 12; others → None)."""
        result = {}
        for value in values:
            text = (value or "").strip()
            if text.startswith("RBMD") and text[4:].isdigit():
                result[value] = int(text[4:])
        return result
