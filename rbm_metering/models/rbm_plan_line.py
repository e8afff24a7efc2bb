from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .rbm_abstract_usage_pricing import USAGE_PRICE_DIGITS


class RbmPlanLine(models.Model):
    _name = "rbm.plan.line"
    _inherit = ["rbm.plan.line", "rbm.usage.pricing.mixin"]

    line_type = fields.Selection(selection_add=[("usage", "Usage")], ondelete={"usage": "cascade"})
    # usage prices below a cent: the unit price keeps the usage precision
    price_unit = fields.Float(digits=USAGE_PRICE_DIGITS)
    tier_ids = fields.One2many("rbm.price.tier", "plan_line_id", string="Price Tiers")
    price_property = fields.Char(
        string="Price by Property",
        help="Event property whose value selects the price (e.g. region): each value listed "
        "below has its own pricing; other values take this line's pricing. The invoice "
        "shows one line per value.",
    )
    price_filter_ids = fields.One2many(
        "rbm.usage.price.filter", "plan_line_id", string="Prices by Property Value"
    )

    @api.constrains("price_property", "metric_id")
    def _check_price_property(self):
        for line in self.filtered("price_property"):
            if line.metric_id.aggregation == "time_weighted_sum":
                raise ValidationError(
                    _(
                        "Line %(line)s: a time-weighted metric cannot be priced by property "
                        "(field Price by Property).",
                        line=line.display_name,
                    )
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
