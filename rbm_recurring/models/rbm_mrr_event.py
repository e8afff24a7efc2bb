from odoo import fields, models

EVENT_TYPES = [
    ("new", "New"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
    ("reactivation", "Reactivation"),
]

REASONS = [
    ("start", "Start"),
    ("upgrade", "Upgrade"),
    ("downgrade", "Downgrade"),
    ("quantity", "Quantity change"),
    ("addon", "Add-on"),
    ("adjustment", "Price adjustment"),
    ("campaign", "Campaign"),
    ("campaign_end", "Campaign end"),
    ("suspension", "Suspension"),
    ("reactivation", "Reactivation"),
    ("cancellation", "Cancellation"),
    ("expiry", "Expiry"),
    ("other", "Other change"),
]


class RbmMrrEvent(models.Model):
    _name = "rbm.mrr.event"
    _description = "MRR Movement"
    _order = "date desc, id desc"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    partner_id = fields.Many2one(
        related="contract_id.commercial_partner_id", store=True, string="Customer"
    )
    plan_id = fields.Many2one("rbm.plan", readonly=True, index=True)
    user_id = fields.Many2one(related="contract_id.user_id", store=True, string="Salesperson")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    date = fields.Date(required=True, readonly=True, index=True)
    event_type = fields.Selection(EVENT_TYPES, string="Type", required=True, readonly=True)
    reason = fields.Selection(REASONS, required=True, readonly=True, default="other")
    mrr_before = fields.Monetary(string="MRR Before", readonly=True)
    delta = fields.Monetary(string="MRR Change", readonly=True)
    mrr_after = fields.Monetary(string="MRR After", readonly=True)
