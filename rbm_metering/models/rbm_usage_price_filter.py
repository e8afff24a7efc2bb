from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .rbm_abstract_usage_pricing import USAGE_PRICE_DIGITS


class RbmUsagePriceFilter(models.Model):
    """The price of a usage line for the events whose property (the line's
    Price by Property, e.g. ``region``) has one value (e.g. ``sa-east``), as
    Lago's charge filters (getlago.com/docs/guide/plans/charges/charges-with-filters):
    each value its own pricing model; events with a value not listed (or
    without the property) are priced by the line itself, the default. The
    invoice and the statement show one line per value."""

    _name = "rbm.usage.price.filter"
    _inherit = ["rbm.usage.pricing.mixin"]
    _description = "Usage Price by Property Value"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    plan_line_id = fields.Many2one("rbm.plan.line", ondelete="cascade", index="btree_not_null")
    contract_line_id = fields.Many2one(
        "rbm.contract.line", ondelete="cascade", index="btree_not_null"
    )
    company_id = fields.Many2one(
        "res.company", compute="_compute_company_id", store=True, index="btree_not_null"
    )
    value = fields.Char(
        required=True, help="Value of the event property priced by this row (e.g. sa-east)."
    )
    label = fields.Char(help="Shown on the invoice and the statement (default: the value).")
    metric_id = fields.Many2one(compute="_compute_metric_id", store=True, readonly=True)
    price_unit = fields.Float(string="Unit Price", digits=USAGE_PRICE_DIGITS)
    tier_ids = fields.One2many("rbm.price.tier", "filter_id", string="Price Tiers")

    _sql_constraints = [
        (
            "one_line",
            "CHECK ((plan_line_id IS NULL) != (contract_line_id IS NULL))",
            "A price by property value belongs to one plan line or one contract line.",
        ),
    ]

    @api.depends("plan_line_id.metric_id", "contract_line_id.metric_id")
    def _compute_metric_id(self):
        for row in self:
            row.metric_id = (row.plan_line_id or row.contract_line_id).metric_id

    @api.depends("plan_line_id.company_id", "contract_line_id.company_id")
    def _compute_company_id(self):
        for row in self:
            row.company_id = (row.plan_line_id or row.contract_line_id).company_id

    @api.depends("value", "label")
    def _compute_display_name(self):
        for row in self:
            row.display_name = row.label or row.value or ""

    @api.constrains("value", "plan_line_id", "contract_line_id")
    def _check_value_unique(self):
        for row in self:
            line = row.plan_line_id or row.contract_line_id
            if len(line.price_filter_ids.filtered(lambda r, v=row.value: r.value == v)) > 1:
                raise ValidationError(
                    _(
                        "Line %(line)s: the value %(value)s of the property %(property)s is "
                        "priced twice (field Value).",
                        line=line.display_name,
                        value=row.value,
                        property=line.price_property,
                    )
                )

    def _prepare_copy_vals(self):
        self.ensure_one()
        vals = self._get_usage_pricing_vals()
        vals.pop("metric_id", None)
        vals.update(
            sequence=self.sequence, value=self.value, label=self.label, price_unit=self.price_unit
        )
        return vals
