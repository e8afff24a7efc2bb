from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .rbm_abstract_usage_pricing import USAGE_PRICE_DIGITS, check_price_digits


class RbmPriceTier(models.Model):
    _name = "rbm.price.tier"
    _description = "Usage Price Tier"
    _order = "from_qty, id"

    plan_line_id = fields.Many2one("rbm.plan.line", ondelete="cascade", index="btree_not_null")
    contract_line_id = fields.Many2one(
        "rbm.contract.line", ondelete="cascade", index="btree_not_null"
    )
    filter_id = fields.Many2one(
        "rbm.usage.price.filter", ondelete="cascade", index="btree_not_null"
    )
    from_qty = fields.Float(string="From", digits=(16, 6), required=True, default=0.0)
    to_qty = fields.Float(
        string="Up To", digits=(16, 6), help="Last quantity of the tier (0: no upper limit)."
    )
    price = fields.Float(
        string="Unit Price",
        digits=USAGE_PRICE_DIGITS,
        required=True,
        help="Price per unit of the tier; for graduated percentage tiers, the rate in percent.",
    )
    flat_fee = fields.Float(digits="Product Price", help="Charged once when the tier is reached.")

    @api.constrains("from_qty", "to_qty")
    def _check_bounds(self):
        for tier in self:
            if tier.from_qty < 0 or (tier.to_qty and tier.to_qty <= tier.from_qty):
                raise ValidationError(
                    _(
                        "A price tier must end after it starts (from %(start)s up to %(end)s).",
                        start=tier.from_qty,
                        end=tier.to_qty,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        check_price_digits(self, vals_list)
        return super().create(vals_list)

    def write(self, vals):
        check_price_digits(self, [vals])
        return super().write(vals)

    def _prepare_copy_vals(self):
        self.ensure_one()
        return {
            "from_qty": self.from_qty,
            "to_qty": self.to_qty,
            "price": self.price,
            "flat_fee": self.flat_fee,
        }

    def _get_engine_tiers(self):
        return [
            (tier.from_qty, tier.to_qty or None, tier.price, tier.flat_fee)
            for tier in self.sorted("from_qty")
        ]
