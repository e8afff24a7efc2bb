from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    rbm_collection_policy_id = fields.Many2one(
        "rbm.collection.policy",
        string="Collection Policy",
        tracking=True,
        help="The collection calendar of this customer's invoices; empty: the company's default "
        "policy.",
    )
    rbm_collection_policy_date = fields.Date(
        string="Policy Since",
        readonly=True,
        copy=False,
        help="Day the customer got this policy: with 'Skip Past Steps', steps due before are "
        "skipped.",
    )
    rbm_collection_paused_until = fields.Date(
        string="Collection Paused Until",
        tracking=True,
        copy=False,
        help="Promise to pay: no collection step runs for this customer until after this day.",
    )
    rbm_collection_pause_note = fields.Char(string="Promise to Pay", tracking=True, copy=False)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("rbm_collection_policy_id"):
                vals.setdefault("rbm_collection_policy_date", fields.Date.context_today(self))
        return super().create(vals_list)

    def write(self, vals):
        if "rbm_collection_policy_id" in vals and "rbm_collection_policy_date" not in vals:
            vals = dict(vals, rbm_collection_policy_date=fields.Date.context_today(self))
        return super().write(vals)
