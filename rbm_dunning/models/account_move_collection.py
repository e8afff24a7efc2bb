from markupsafe import Markup

from odoo import _, api, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_collection_log_ids = fields.One2many(
        "rbm.collection.log", "move_id", string="Collection Steps", readonly=True
    )
    rbm_late_fee_ids = fields.One2many("rbm.late.fee", "move_id", string="Late Fees", readonly=True)

    def _rbm_get_payment_mode(self):
        """How the invoice is meant to be paid: the contract's method, else
        boleto when it has boletos, else a plain invoice."""
        self.ensure_one()
        if self.rbm_contract_id.payment_mode:
            return self.rbm_contract_id.payment_mode
        return "boleto" if self.rbm_boleto_ids else "invoice"

    def _rbm_days_overdue(self):
        """Days since the invoice's due date (zero or negative: not late)."""
        self.ensure_one()
        if not self.invoice_date_due:
            return 0
        return (fields.Date.context_today(self) - self.invoice_date_due).days

    def _rbm_collection_attachments(self):
        """What a collection email carries: the boleto PDF when the invoice has
        boletos still payable."""
        self.ensure_one()
        return self._rbm_ensure_boleto_pdf()

    @api.model
    def _rbm_collection_reactivate_settled(self, today=None, contracts=None):
        """Reactivate contracts suspended for non-payment that owe nothing
        overdue any more. Returns the contracts reactivated."""
        today = today or fields.Date.context_today(self)
        Contract = self.env["rbm.contract"].sudo()
        if contracts is None:
            contracts = Contract.search(
                [("state", "=", "suspended"), ("rbm_suspended_by_collection", "=", True)]
            )
        else:
            contracts = contracts.sudo().filtered(
                lambda c: c.state == "suspended" and c.rbm_suspended_by_collection
            )
        if not contracts:
            return Contract
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT DISTINCT m.rbm_contract_id
              FROM account_move_line aml
              JOIN account_move m ON m.id = aml.move_id
             WHERE m.rbm_contract_id = ANY(%s)
               AND m.move_type = 'out_invoice' AND m.state = 'posted'
               AND aml.display_type = 'payment_term'
               AND NOT aml.reconciled AND aml.amount_residual > 0
               AND aml.date_maturity < %s
            """,
            [contracts.ids, today],
        )
        owing = {row[0] for row in self.env.cr.fetchall()}
        settled = contracts.filtered(lambda c: c.id not in owing)
        if settled:
            settled._reactivate(date=today)
            settled.rbm_suspended_by_collection = False
            for contract in settled:
                contract.message_post(
                    body=Markup("<p>%s</p>") % _("Reactivated: every overdue invoice is paid.")
                )
        return settled
