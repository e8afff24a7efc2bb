from odoo import fields, models
from odoo.tools import sql

RECORD_TYPES = [
    ("B", "Mandate (B)"),
    ("E", "Debit Request (E)"),
    ("F", "Debit Result (F)"),
]


class RbmDebitOccurrence(models.Model):
    """One line of a CNAB 150 file: a debit sent (E), a mandate opt-in or
    opt-out from the bank (B) or a debit result (F).

    A return line is applied once: the same line in any later file has the
    same ``dedup_key``, which a unique index refuses. Lines that could not be
    applied are logged as problems and may be applied by a later file."""

    _name = "rbm.debit.occurrence"
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
    status = fields.Selection(
        [("applied", "Applied"), ("problem", "Not Applied")], default="applied", required=True
    )
    message = fields.Char(help="What the import did, or why it could not.")
    dedup_key = fields.Char(required=True, default="", index=True)

    _sql_constraints = [
        ("file_line_uniq", "unique(file_id, line_number)", "A line of a file is logged once."),
    ]

    def init(self):
        super().init()
        # lines not applied (a problem) stay out: a later file may bring them again
        if not sql.index_exists(self.env.cr, "rbm_debit_occurrence_applied_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX rbm_debit_occurrence_applied_uniq
                    ON rbm_debit_occurrence (collection_account_id, dedup_key)
                 WHERE direction = 'return' AND status = 'applied'
                """
            )
