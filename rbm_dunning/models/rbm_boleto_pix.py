from odoo import _, api, fields, models

from .rbm_boleto import _pix_txid


class RbmBoleto(models.Model):
    _inherit = "rbm.boleto"

    pix_txid = fields.Char(
        string="Pix Transaction ID",
        compute="_compute_pix_txid",
        store=True,
        index="btree_not_null",
        help="Transaction ID of the boleto's Pix code (boleto híbrido): bank statement lines "
        "carrying it are reconciled with the installment.",
    )

    @api.depends("our_number", "pix_payload")
    def _compute_pix_txid(self):
        for boleto in self:
            boleto.pix_txid = boleto.pix_payload and _pix_txid(boleto.our_number or "") or False

    def _rbm_mark_paid_by_pix(self, statement_line):
        """The boleto's installment was paid by its Pix code: the boleto is
        paid, and one the bank holds gets a write-off (baixa) in the next
        remittance so that it cannot be paid twice."""
        for boleto in self:
            boleto._mark_paid(statement_line.date, statement_line.amount, write_off_at_bank=True)
            boleto.message_post(
                body=_("Paid by Pix (statement line %(line)s).", line=statement_line.display_name)
            )
        self.move_id._rbm_reset_boleto_pdf()
