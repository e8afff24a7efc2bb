from odoo import api, fields, models

OCCURRENCE_KINDS = [
    # remittance instructions
    ("entry", "Entry"),
    ("write_off", "Write-off"),
    ("change_due_date", "Due Date Change"),
    # return occurrences (engine kinds)
    ("registered", "Entry Confirmed"),
    ("rejected", "Rejected"),
    ("paid", "Paid"),
    ("written_off", "Written Off"),
    ("rebate", "Rebate"),
    ("due_date_changed", "Due Date Changed"),
    ("fee", "Fees"),
    ("other", "Other"),
]


class RbmCnabOccurrence(models.Model):
    """One line of a CNAB file about one boleto: an instruction sent in a
    remittance, or an occurrence reported by the bank in a return file.

    A return occurrence is applied once: the same occurrence of the same
    title on the same day with the same amounts (its ``dedup_key``) in any
    later file is skipped, and a unique index settles any race; one that could
    not be applied is tried again (``rbm.bank.file.line.mixin``)."""

    _name = "rbm.cnab.occurrence"
    _inherit = ["rbm.bank.file.line.mixin"]
    _description = "CNAB Occurrence"
    _order = "file_id desc, line_number"
    _rec_name = "description"
    _check_company_auto = True

    file_id = fields.Many2one(
        "rbm.cnab.file", string="CNAB File", required=True, ondelete="cascade", index=True
    )
    direction = fields.Selection(related="file_id.direction", store=True, precompute=True)
    collection_account_id = fields.Many2one(
        related="file_id.collection_account_id", store=True, precompute=True, index=True
    )
    company_id = fields.Many2one(related="file_id.company_id", store=True, precompute=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    line_number = fields.Integer(required=True)
    boleto_id = fields.Many2one("rbm.boleto", index="btree_not_null", ondelete="set null")
    move_id = fields.Many2one(related="boleto_id.move_id", string="Invoice")
    partner_id = fields.Many2one(related="boleto_id.partner_id", string="Payer")
    our_number = fields.Char(help="Our number as written in the file.")
    our_number_key = fields.Char(required=True, default="", index=True)
    code = fields.Char(required=True, help="Movement (remittance) or occurrence (return) code.")
    kind = fields.Selection(OCCURRENCE_KINDS, required=True)
    description = fields.Char()
    rejection_reasons = fields.Char()
    occurrence_date = fields.Date(required=True)
    credit_date = fields.Date()
    due_date = fields.Date()
    amount = fields.Monetary(default=0.0)
    amount_paid = fields.Monetary(default=0.0)
    interest_fine = fields.Monetary(string="Interest and Fine", default=0.0)
    discount = fields.Monetary(string="Discount and Rebate", default=0.0)
    fee = fields.Monetary(default=0.0)
    net_amount = fields.Monetary(default=0.0)
    payment_id = fields.Many2one("account.payment", index="btree_not_null", ondelete="set null")
    # Pix record of a boleto híbrido that followed the title in the return
    pix_code = fields.Char(string="Pix Copy and Paste")
    pix_txid = fields.Char(string="Pix Transaction ID")
    pix_location = fields.Char(string="Pix Location")
    dedup_key = fields.Char(compute="_compute_dedup_key", store=True, precompute=True)

    _sql_constraints = [
        (
            "file_line_uniq",
            "unique(file_id, line_number)",
            "A line of a CNAB file is logged once.",
        ),
    ]

    def init(self):
        # the index of earlier versions refused a line that had failed once
        self.env.cr.execute("DROP INDEX IF EXISTS rbm_cnab_occurrence_return_uniq")
        super().init()

    @api.depends("our_number_key", "code", "occurrence_date", "amount_paid", "fee")
    def _compute_dedup_key(self):
        for occurrence in self:
            occurrence.dedup_key = occurrence._build_dedup_key(
                occurrence.our_number_key,
                occurrence.code,
                occurrence.occurrence_date,
                occurrence.amount_paid,
                occurrence.fee,
            )

    @api.model
    def _build_dedup_key(self, our_number_key, code, occurrence_date, amount_paid, fee):
        """The same occurrence of the same title on the same day with the
        same amounts."""
        return self._make_dedup_key(
            our_number_key or "",
            code,
            occurrence_date,
            f"{amount_paid or 0.0:.2f}",
            f"{fee or 0.0:.2f}",
        )
