from odoo import api, fields, models

from .rbm_pix_authorization import LIVE_STATES


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    payment_mode = fields.Selection(
        selection_add=[("pix_automatico", "Pix Automático")],
        ondelete={"pix_automatico": "set invoice"},
    )
    rbm_pix_authorization_ids = fields.One2many(
        "rbm.pix.authorization", "contract_id", string="Pix Automático Authorizations"
    )
    rbm_pix_authorization_id = fields.Many2one(
        "rbm.pix.authorization",
        string="Pix Automático Authorization",
        compute="_compute_rbm_pix_authorization_id",
        help="The live authorization (awaiting the payer or approved), else the latest one.",
    )
    rbm_pix_authorization_state = fields.Selection(
        selection=lambda self: self.env["rbm.pix.authorization"]._fields["state"].selection,
        string="Pix Automático Status",
        compute="_compute_rbm_pix_authorization_id",
    )
    rbm_pix_fallback = fields.Selection(
        [("none", "None"), ("boleto", "Boleto"), ("card", "Saved card")],
        string="Fallback When a Cycle Fails",
        default="none",
        required=True,
        tracking=True,
        help="How an invoice is collected when its Pix Automático charge is rejected or "
        "expires after the retries the authorization allows.",
    )

    @api.depends("rbm_pix_authorization_ids.state")
    def _compute_rbm_pix_authorization_id(self):
        for contract in self:
            auths = contract.rbm_pix_authorization_ids.sorted("id", reverse=True)
            auth = auths.filtered(lambda a: a.state in LIVE_STATES)[:1] or auths[:1]
            contract.rbm_pix_authorization_id = auth
            contract.rbm_pix_authorization_state = auth.state

    # Pix Automático cycle charges (smart button)
    rbm_pix_cycle_charge_count = fields.Integer(
        string="Pix Automático Charges",
        compute="_compute_rbm_pix_cycle_charge_count",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_manager",
    )

    def _compute_rbm_pix_cycle_charge_count(self):
        counts = dict(
            self.env["rbm.pix.cycle.charge"]._read_group(
                [("contract_id", "in", self.ids)], ["contract_id"], ["__count"]
            )
        )
        for contract in self:
            contract.rbm_pix_cycle_charge_count = counts.get(contract, 0)
