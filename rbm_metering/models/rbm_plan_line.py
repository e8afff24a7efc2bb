from odoo import api, fields, models

from .rbm_abstract_usage_pricing import USAGE_PRICE_DIGITS


class RbmPlanLine(models.Model):
    _name = "rbm.plan.line"
    _inherit = ["rbm.plan.line", "rbm.usage.pricing.mixin", "rbm.usage.line.mixin"]

    line_type = fields.Selection(selection_add=[("usage", "Usage")], ondelete={"usage": "cascade"})
    # usage prices below a cent: the unit price keeps the usage precision
    price_unit = fields.Float(digits=USAGE_PRICE_DIGITS)
    tier_ids = fields.One2many("rbm.price.tier", "plan_line_id", string="Price Tiers")
    price_filter_ids = fields.One2many(
        "rbm.usage.price.filter", "plan_line_id", string="Prices by Property Value"
    )

    @api.depends("product_id", "metric_id")
    def _compute_line_type(self):
        usage = self.filtered("metric_id")
        usage.line_type = "usage"
        super(RbmPlanLine, self - usage)._compute_line_type()

    def _prepare_contract_line_vals(self):
        vals = super()._prepare_contract_line_vals()
        vals.update(self._get_usage_pricing_vals())
        return vals
