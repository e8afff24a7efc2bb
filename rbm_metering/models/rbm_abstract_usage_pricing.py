from decimal import InvalidOperation

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.rbm_recurring.engine import money
from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import rating

# the decimal precision of every price per unit of usage (tiers, overage,
# per-unit and package prices, percentage rules): 6 decimals as installed,
# independent of Odoo's "Product Price"
USAGE_PRICE_DIGITS = "RBM Usage Price"


def check_price_digits(records, vals_list):
    """Refuse a value of a float field with a decimal precision that has more
    decimals than that precision keeps: Odoo would round it when storing it
    (R$ 0,0051 saved as R$ 0,01 under a 2-decimal precision), silently.
    ``records`` gives the model (and, when writing, the records named)."""
    for vals in vals_list:
        for name, value in vals.items():
            field = records._fields.get(name)
            if not field or field.type != "float" or isinstance(value, bool) or value is None:
                continue
            digits = field.get_digits(records.env)
            if not digits:
                continue
            try:
                exact = money.to_decimal(float(value))
            except (InvalidOperation, TypeError, ValueError):
                continue
            if exact.is_finite() and -exact.as_tuple().exponent > digits[1]:
                text = format(exact.normalize(), "f")
                raise ValidationError(
                    records.env._(
                        '%(model)s %(record)s: the value %(value)s of the field "%(field)s" '
                        "has more than %(digits)s decimals and would be rounded when saved. "
                        "Enter it with at most %(digits)s decimals.",
                        model=records._description,
                        record=", ".join(records.mapped("display_name")) if records else "",
                        value=text,
                        field=field._description_string(records.env),
                        digits=digits[1],
                    )
                )


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
            ("percentage", "Percentage"),
            ("graduated_percentage", "Graduated percentage"),
        ],
        string="Pricing Model",
        default="per_unit",
        help="Per unit: quantity x unit price.\n"
        "Allowance + overage: what exceeds the allowance (franquia) at the overage price.\n"
        "Graduated tiers: each unit at the price of its tier.\n"
        "Volume tiers: every unit at the price of the tier the total reaches.\n"
        "Package: the unit price per started block of N units.\n"
        "Percentage: a rate of the amount each event carries (the metric's quantity), plus a "
        "fixed fee per event, with a minimum and maximum per event.\n"
        "Graduated percentage: the period's amount split into tiers, each at its own rate.",
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
    overage_price = fields.Float(
        digits=USAGE_PRICE_DIGITS, help="Price per unit above the allowance."
    )
    package_size = fields.Float(digits=(16, 6), default=1.0)
    minimum_charge = fields.Float(digits="Product Price", help="Least amount billed per period.")
    percent_rate = fields.Float(
        string="Rate (%)",
        digits=USAGE_PRICE_DIGITS,
        help="Percentage model: the percent of each event's amount (e.g. 1.99).",
    )
    event_fixed_fee = fields.Float(
        string="Fixed Fee per Event",
        digits=USAGE_PRICE_DIGITS,
        help="Percentage model: charged for every event that is not free.",
    )
    event_min_amount = fields.Float(
        string="Minimum per Event",
        digits=USAGE_PRICE_DIGITS,
        help="Percentage model: least charge of an event that is not free (0: none).",
    )
    event_max_amount = fields.Float(
        string="Maximum per Event",
        digits=USAGE_PRICE_DIGITS,
        help="Percentage model: highest charge of an event (0: none).",
    )
    free_events = fields.Integer(
        string="Free Events",
        help="Percentage model: the first events of the period are free (no rate, no fixed "
        "fee). With an allowance (the free amount) too, the free part ends at whichever "
        "comes first.",
    )

    @api.constrains(
        "metric_id",
        "price_model",
        "package_size",
        "allowance",
        "percent_rate",
        "event_fixed_fee",
        "event_min_amount",
        "event_max_amount",
        "free_events",
    )
    def _check_usage_pricing(self):
        for line in self.filtered("metric_id"):
            if line.price_model in ("percentage", "graduated_percentage"):
                line._check_percentage_pricing()
            if line.price_model == "package" and line.package_size <= 0:
                raise ValidationError(
                    _("A package price needs a positive package size (field Package Size).")
                )
            if line.allowance < 0:
                raise ValidationError(_("The allowance must not be negative."))
            if line.price_model in ("graduated", "volume", "graduated_percentage"):
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

    def _check_percentage_pricing(self):
        self.ensure_one()
        if self.metric_id.aggregation != "sum":
            raise ValidationError(
                _(
                    "Line %(line)s: a percentage price applies to an amount: its metric "
                    "%(metric)s must sum the events (field Aggregation).",
                    line=self.display_name,
                    metric=self.metric_id.display_name,
                )
            )
        for name in ("percent_rate", "event_fixed_fee", "event_min_amount", "event_max_amount"):
            if self[name] < 0:
                raise ValidationError(
                    _(
                        "Line %(line)s: the field %(field)s must not be negative.",
                        line=self.display_name,
                        field=self._fields[name]._description_string(self.env),
                    )
                )
        if self.free_events < 0:
            raise ValidationError(
                _("Line %(line)s: the free events must not be negative.", line=self.display_name)
            )
        if self.event_max_amount and self.event_max_amount < self.event_min_amount:
            raise ValidationError(
                _(
                    "Line %(line)s: the maximum per event is below the minimum per event.",
                    line=self.display_name,
                )
            )

    def _get_percentage_terms(self):
        """The percentage model's terms for the rating engine."""
        self.ensure_one()
        to_decimal = rating.to_decimal
        return rating.Percentage(
            rate=to_decimal(self.percent_rate),
            fixed_fee=to_decimal(self.event_fixed_fee),
            event_min=to_decimal(self.event_min_amount) if self.event_min_amount else None,
            event_max=to_decimal(self.event_max_amount) if self.event_max_amount else None,
            free_events=self.free_events or 0,
        )

    def _needs_event_amounts(self):
        """Whether rating this line needs each event's amount (per-event rules)."""
        self.ensure_one()
        return self.price_model == "percentage" and rating.percentage_needs_events(
            self._get_percentage_terms()
        )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        check_price_digits(self, vals_list)
        return super().create(vals_list)

    def write(self, vals):
        check_price_digits(self, [vals])
        return super().write(vals)

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
            "percent_rate": self.percent_rate,
            "event_fixed_fee": self.event_fixed_fee,
            "event_min_amount": self.event_min_amount,
            "event_max_amount": self.event_max_amount,
            "free_events": self.free_events,
            "tier_ids": [fields.Command.create(t._prepare_copy_vals()) for t in self.tier_ids],
            **self._get_price_filter_vals(),
        }

    def _get_price_filter_vals(self):
        """Values to copy the prices by property value (usage lines only)."""
        if "price_filter_ids" not in self._fields:
            return {}
        return {
            "price_property": self.price_property,
            "price_filter_ids": [
                fields.Command.create(row._prepare_copy_vals()) for row in self.price_filter_ids
            ],
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


class RbmUsageLineMixin(models.AbstractModel):
    """What plan lines and contract lines add to the usage pricing: a price
    chosen by the value of an event property."""

    _name = "rbm.usage.line.mixin"
    _description = "Usage Line Pricing by Property"

    price_property = fields.Char(
        string="Price by Property",
        help="Event property whose value selects the price (e.g. region): each value listed "
        "below has its own pricing; other values take this line's pricing. The invoice "
        "shows one line per value.",
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
