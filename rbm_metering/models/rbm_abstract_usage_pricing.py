from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import rating


class RbmUsagePricingMixin(models.AbstractModel):
    """Usage pricing shared by plan lines and contract lines."""

    _name = "rbm.usage.pricing.mixin"
    _description = "Usage Pricing"

    metric_id = fields.Many2one(
        "rbm.metric",
        string="Metric",
        index="btree_not_null",
        ondelete="restrict",
        help="Makes this a usage line: it bills what the metric measured in the period.",
    )
    price_model = fields.Selection(
        [
            ("per_unit", "Per unit"),
            ("allowance", "Allowance + overage"),
            ("graduated", "Graduated tiers"),
            ("volume", "Volume tiers"),
            ("package", "Package"),
        ],
        string="Pricing Model",
        default="per_unit",
        help="Per unit: quantity x unit price.\n"
        "Allowance + overage: what exceeds the allowance (franquia) at the overage price.\n"
        "Graduated tiers: each unit at the price of its tier.\n"
        "Volume tiers: every unit at the price of the tier the total reaches.\n"
        "Package: the unit price per started block of N units.",
    )
    allowance = fields.Float(
        string="Allowance",
        digits=(16, 6),
        help="Quantity included in the period (franquia), deducted before pricing.",
    )
    allowance_proration = fields.Selection(
        [("prorate", "Prorate"), ("full", "Full")],
        string="Partial Period Allowance",
        default="prorate",
        help="In a partial period the allowance is prorated by days, or granted in full.",
    )
    overage_price = fields.Float(digits="Product Price", help="Price per unit above the allowance.")
    package_size = fields.Float(digits=(16, 6), default=1.0)
    minimum_charge = fields.Float(digits="Product Price", help="Least amount billed per period.")

    @api.constrains("metric_id", "price_model", "package_size", "allowance")
    def _check_usage_pricing(self):
        for line in self.filtered("metric_id"):
            if line.price_model == "package" and line.package_size <= 0:
                raise ValidationError(
                    _("A package price needs a positive package size (field Package Size).")
                )
            if line.allowance < 0:
                raise ValidationError(_("The allowance must not be negative."))
            if line.price_model in ("graduated", "volume"):
                try:
                    rating.normalize_tiers(line.tier_ids._get_engine_tiers())
                except ValueError as error:
                    raise ValidationError(
                        _(
                            "Line %(line)s: the price tiers must start at 0 and follow each "
                            "other without gaps (%(error)s).",
                            line=line.display_name,
                            error=str(error),
                        )
                    ) from error

    def _get_usage_pricing_vals(self):
        """Values to copy the usage pricing to another line."""
        self.ensure_one()
        if not self.metric_id:
            return {}
        return {
            "metric_id": self.metric_id.id,
            "price_model": self.price_model,
            "allowance": self.allowance,
            "allowance_proration": self.allowance_proration,
            "overage_price": self.overage_price,
            "package_size": self.package_size,
            "minimum_charge": self.minimum_charge,
            "tier_ids": [fields.Command.create(t._prepare_copy_vals()) for t in self.tier_ids],
        }

    def action_open_usage_pricing(self):
        check_staff_access(self, "read")
        self.ensure_one()
        view = self.env.ref(f"rbm_metering.{self._table}_view_form_usage")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Usage Pricing"),
            "res_model": self._name,
            "res_id": self.id,
            "views": [(view.id, "form")],
            "target": "new",
        }
