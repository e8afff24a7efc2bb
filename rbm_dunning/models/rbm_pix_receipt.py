import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# BACEN end-to-end id: E + ISPB (8 digits) + yyyyMMddHHmm + 11 letters or digits
END_TO_END_RE = re.compile(r"E[0-9]{8}[0-9]{12}[0-9A-Za-z]{11}")


class RbmPixReceipt(models.Model):
    """A Pix received, as the receiving bank (PSP) reports it: its end-to-end
    id and the txid of the charge it paid. Bank statements often carry only
    the end-to-end id; this table maps it to the txid."""

    _name = "rbm.pix.receipt"
    _description = "Pix Received"
    _order = "received_on desc, id desc"
    _rec_name = "end_to_end_id"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    end_to_end_id = fields.Char(string="End-to-End ID", required=True, index=True)
    txid = fields.Char(string="Transaction ID", required=True, index=True)
    amount = fields.Monetary()
    received_on = fields.Datetime(string="Received On", default=fields.Datetime.now)
    payer_name = fields.Char()
    statement_line_id = fields.Many2one(
        "account.bank.statement.line",
        string="Statement Line",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The bank statement line this Pix was reconciled through.",
    )

    _sql_constraints = [
        (
            "end_to_end_uniq",
            "unique(company_id, end_to_end_id)",
            "A Pix end-to-end ID is recorded once.",
        ),
    ]

    @api.constrains("end_to_end_id", "txid")
    def _check_ids(self):
        for receipt in self:
            if not END_TO_END_RE.fullmatch(receipt.end_to_end_id or ""):
                raise ValidationError(
                    _(
                        "End-to-End ID %(value)s: E, the payer's bank ISPB (8 digits), date and "
                        "time (12 digits) and 11 letters or digits (32 characters).",
                        value=receipt.end_to_end_id,
                    )
                )
            if not re.fullmatch(r"[A-Za-z0-9]{1,35}", receipt.txid or ""):
                raise ValidationError(
                    _(
                        "Transaction ID %(value)s: 1 to 35 letters and digits.",
                        value=receipt.txid,
                    )
                )

    @api.model
    def _record_notifications(self, vals_list):
        """Record Pix notifications (``end_to_end_id``, ``txid``, ``amount``
        …) once: end-to-end ids already known are skipped. Returns the new
        receipts; their statement lines are matched again."""
        company = self.env.company
        ids = [vals["end_to_end_id"] for vals in vals_list]
        known = set(
            self.search([("company_id", "=", company.id), ("end_to_end_id", "in", ids)]).mapped(
                "end_to_end_id"
            )
        )
        todo = []
        for vals in vals_list:
            if vals["end_to_end_id"] not in known:
                known.add(vals["end_to_end_id"])
                todo.append({**vals, "company_id": company.id})
        receipts = self.create(todo)
        self.env["account.bank.statement.line"]._rbm_retry_pix(receipts.mapped("end_to_end_id"))
        return receipts
