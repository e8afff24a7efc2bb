from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_debit_mandate_id = fields.Many2one(
        "rbm.debit.mandate",
        string="Direct Debit Mandate",
        copy=False,
        check_company=True,
        domain="[('partner_id', '=', commercial_partner_id), ('state', '=', 'active')]",
        help="The open installments of this invoice are debited with this mandate in the next "
        "direct debit remittance. Contract invoices paid by direct debit use the contract's "
        "(or the customer's active) mandate.",
    )
    rbm_debit_ids = fields.One2many("rbm.debit", "move_id", string="Direct Debits")

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._rbm_assign_debit_mandates()
        return posted

    def _rbm_assign_debit_mandates(self):
        """Contract invoices paid by direct debit take the contract's mandate,
        or the customer's active one (batched)."""
        moves = self.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and not m.rbm_debit_mandate_id
                and m.rbm_contract_id.payment_mode == "direct_debit"
            )
        )
        if not moves:
            return
        Mandate = self.env["rbm.debit.mandate"].sudo()
        fallback = {}
        for company in moves.company_id:
            fallback.update(
                Mandate._get_active_for_partners(
                    moves.filtered(lambda m, c=company: m.company_id == c).commercial_partner_id,
                    company,
                )
            )
        for move in moves:
            mandate = move._rbm_get_debit_mandate(fallback)
            if mandate:
                move.sudo().rbm_debit_mandate_id = mandate

    def _rbm_get_debit_mandate(self, fallback):
        """The active mandate debiting this invoice: its own, its contract's,
        or the customer's (``fallback``: commercial partner -> mandate)."""
        self.ensure_one()
        for mandate in (self.rbm_debit_mandate_id, self.rbm_contract_id.rbm_debit_mandate_id):
            if mandate.state == "active":
                return mandate
        if self.rbm_contract_id.payment_mode == "direct_debit" or self.rbm_debit_mandate_id:
            return fallback.get(self.commercial_partner_id, False)
        return False
