from odoo import api, fields, models

# staff only: the customer never reads the collection calendar set for them
STAFF_GROUPS = "rbm_recurring.rbm_recurring_group_user,account.group_account_invoice"


class ResPartner(models.Model):
    _inherit = "res.partner"

    rbm_collection_policy_id = fields.Many2one(
        "rbm.collection.policy",
        string="Collection Policy",
        tracking=True,
        groups=STAFF_GROUPS,
        help="The collection calendar of this customer's invoices; empty: the company's default "
        "policy.",
    )
    rbm_collection_policy_date = fields.Date(
        string="Policy Since",
        readonly=True,
        groups=STAFF_GROUPS,
        copy=False,
        help="Day the customer got this policy: with 'Skip Past Steps', steps due before are "
        "skipped.",
    )
    rbm_collection_paused_until = fields.Date(
        string="Collection Paused Until",
        tracking=True,
        groups=STAFF_GROUPS,
        copy=False,
        help="Promise to pay: no collection step runs for this customer until after this day.",
    )
    rbm_collection_pause_note = fields.Char(
        string="Promise to Pay", tracking=True, copy=False, groups=STAFF_GROUPS
    )

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
