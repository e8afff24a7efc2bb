from odoo import fields, models


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    rbm_collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        check_company=True,
        tracking=True,
        help="Account of the boletos of this contract's invoices (default: the company's first).",
    )

    rbm_suspended_by_collection = fields.Boolean(
        string="Suspended for Non-payment",
        copy=False,
        readonly=True,
        help="Suspended by the collection policy: reactivated as soon as every overdue invoice "
        "is paid.",
    )

    def _reactivate(self, date=None):
        contracts = super()._reactivate(date=date)
        self.filtered("rbm_suspended_by_collection").rbm_suspended_by_collection = False
        return contracts

    rbm_debit_mandate_id = fields.Many2one(
        "rbm.debit.mandate",
        string="Direct Debit Mandate",
        check_company=True,
        tracking=True,
        domain="[('partner_id', '=', commercial_partner_id), ('state', '=', 'active')]",
        help="Mandate the invoices of this contract are debited with (default: the customer's "
        "active mandate).",
    )
