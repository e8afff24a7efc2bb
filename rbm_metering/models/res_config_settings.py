from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    rbm_usage_retention_months = fields.Integer(
        related="company_id.rbm_usage_retention_months", readonly=False
    )
