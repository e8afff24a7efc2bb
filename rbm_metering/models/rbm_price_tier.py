from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class RbmPriceTier(models.Model):
    _name = "rbm.price.tier"
    _description = "Usage Price Tier"
    _order = "from_qty, id"

    plan_line_id = fields.Many2one("rbm.plan.line", ondelete="cascade", index="btree_not_null")
    contract_line_id = fields.Many2one(
        "rbm.contract.line", ondelete="cascade", index="btree_not_null"
    )
    from_qty = fields.Float(string="From", digits=(16, 6), required=True, default=0.0)
    to_qty = fields.Float(
        string="Up To", digits=(16, 6), help="Last quantity of the tier (0: no upper limit)."
    )
    price = fields.Float(string="Unit Price", digits="Product Price", required=True)
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
