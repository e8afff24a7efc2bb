from odoo import fields, models


class RbmPlan(models.Model):
    _inherit = "rbm.plan"

    usage_statement_on_invoice = fields.Boolean(
        string="Usage Statement on Invoice",
        help="Attach the usage statement (PDF) of the billed period to the invoice email.",
    )
