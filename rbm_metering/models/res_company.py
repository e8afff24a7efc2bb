from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    rbm_usage_retention_months = fields.Integer(
        string="Keep Usage Events (Months)",
        default=0,
        help="Months the usage events are kept one by one after the invoice that billed them: "
        "after that they are summed into daily totals per contract and metric, which the usage "
        "statements show, and deleted. 0 keeps every event forever. Events not invoiced yet are "
        "never deleted.",
    )

    _sql_constraints = [
        (
            "rbm_usage_retention_months_positive",
            "CHECK(rbm_usage_retention_months >= 0)",
            "The months to keep usage events cannot be negative.",
        ),
    ]
