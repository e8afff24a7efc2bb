from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    rbm_card_retry_days = fields.Char(
        related="company_id.rbm_card_retry_days",
        readonly=False,
    )
