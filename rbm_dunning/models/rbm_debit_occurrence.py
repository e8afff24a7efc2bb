from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.rbm_recurring.tools import check_staff_access

RECORD_TYPES = [
    ("B", "Mandate (B)"),
    ("C", "Mandate Refused (C)"),
    ("E", "Debit Request (E)"),
    ("F", "Debit Result (F)"),
]


class RbmDebitOccurrence(models.Model):
    """One line of a CNAB 150 file: a debit sent (E), a mandate opt-in or
    opt-out from the bank (B) or a debit result (F).

    A return line is applied once: the same line in any later file has the
    same ``dedup_key``, which a unique index refuses. Lines that could not be
    applied are logged as problems and may be applied by a later file
    (``rbm.bank.file.line.mixin``)."""

    _name = "rbm.debit.occurrence"
    _inherit = ["rbm.bank.file.line.mixin"]
    _description = "Direct Debit File Line"
    _order = "file_id desc, line_number"
    _rec_name = "description"
    _check_company_auto = True

    file_id = fields.Many2one(
        "rbm.debit.file", string="File", required=True, ondelete="cascade", index=True
    )
    direction = fields.Selection(related="file_id.direction", store=True, precompute=True)
    collection_account_id = fields.Many2one(
        related="file_id.collection_account_id", store=True, precompute=True, index=True
    )
    company_id = fields.Many2one(related="file_id.company_id", store=True, precompute=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    line_number = fields.Integer(required=True)
    record_type = fields.Selection(RECORD_TYPES, required=True)
    customer_identifier = fields.Char(string="Customer Identifier")
    branch = fields.Char(string="Agency")
    account_number = fields.Char(string="Account")
    mandate_id = fields.Many2one("rbm.debit.mandate", index="btree_not_null", ondelete="set null")
    debit_id = fields.Many2one("rbm.debit", index="btree_not_null", ondelete="set null")
    move_id = fields.Many2one(related="debit_id.move_id", string="Invoice")
    partner_id = fields.Many2one(related="mandate_id.partner_id", string="Customer")
    code = fields.Char(help="Return code (F) or movement (B, E).")
    description = fields.Char()
    date = fields.Date(help="Due date (E), debit date (F) or option date (B).")
    amount = fields.Monetary(default=0.0)
    payment_id = fields.Many2one("account.payment", index="btree_not_null", ondelete="set null")
    dedup_key = fields.Char(required=True, default="")
    refusal_state = fields.Selection(
        [("to_send", "To Send"), ("sent", "Sent")],
        string="Refusal",
        readonly=True,
        copy=False,
        help="An opt-in from the bank (B) the company refused: it goes back to the bank as a "
        "record C in the next direct debit remittance.",
    )
    refusal_file_id = fields.Many2one(
        "rbm.debit.file", string="Refusal Sent In", readonly=True, copy=False
    )

    _sql_constraints = [
        ("file_line_uniq", "unique(file_id, line_number)", "A line of a file is logged once."),
    ]

    def action_refuse_at_bank(self):
        """Tell the bank, in the next remittance (record C), that these
        opt-ins (B lines not applied) are refused, with the reason logged."""
        check_staff_access(self, "write")
        for line in self:
            if line.record_type != "B" or line.direction != "return" or line.status != "problem":
                raise UserError(
                    _(
                        "Line %(line)s of %(file)s: only an opt-in from the bank (B) that could "
                        "not be applied can be refused.",
                        line=line.line_number,
                        file=line.file_id.display_name,
                    )
                )
            if line.refusal_state:
                raise UserError(
                    _(
                        "Line %(line)s of %(file)s: this opt-in is already refused (%(state)s).",
                        line=line.line_number,
                        file=line.file_id.display_name,
                        state=dict(self._fields["refusal_state"]._description_selection(self.env))[
                            line.refusal_state
                        ],
                    )
                )
        self.refusal_state = "to_send"
        for line in self:
            line.file_id.message_post(
                body=_(
                    "Opt-in of %(identifier)s (line %(line)s) refused: it goes back to the bank "
                    "in the next direct debit remittance.",
                    identifier=line.customer_identifier,
                    line=line.line_number,
                )
            )
        return True

    def _mark_refusal_sent(self, debit_file):
        """These refused opt-ins went back to the bank in ``debit_file``."""
        self.write({"refusal_state": "sent", "refusal_file_id": debit_file.id})

    def _refusal_text(self):
        """The reason the bank reads in the C record (two texts of 40), in
        Portuguese whatever the user's language, like the rest of the file."""
        self.ensure_one()
        text = f"Cliente {(self.customer_identifier or '').strip()} nao identificado pela empresa"
        return text[:40], text[40:80]
