from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import rating


class RbmMetric(models.Model):
    _name = "rbm.metric"
    _description = "Usage Metric"
    _order = "code, id"
    _rec_names_search = ["code", "name"]
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        index=True,
        help="Identifier sent by the integrations (e.g. storage_gb).",
    )
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    uom_id = fields.Many2one("uom.uom", string="Unit of Measure")
    unit_label = fields.Char(
        string="Unit",
        compute="_compute_unit_label",
        store=True,
        readonly=False,
        help="Shown after quantities on invoices and statements (GB, h, km, users...).",
    )
    aggregation = fields.Selection(
        [
            ("sum", "Sum"),
            ("max", "Maximum"),
            ("count", "Count of events"),
            ("count_unique", "Count of unique values"),
            ("last", "Last value"),
            ("time_weighted_sum", "Time-weighted sum"),
        ],
        required=True,
        default="sum",
        help="How the events of a period become one quantity.\n"
        "Time-weighted sum: each value holds until the next event (e.g. GB-month).",
    )
    unique_property = fields.Char(
        help="Count of unique values: the event property counted (e.g. user_id)."
    )
    time_unit = fields.Selection(
        [("period", "Billing period"), ("day", "Day"), ("hour", "Hour")],
        default="period",
        help="Time-weighted sum: the time unit (GB-month for a monthly plan: Billing period).",
    )
    late_policy = fields.Selection(
        [("next_open_period", "Next open period"), ("reject", "Reject")],
        string="Late Events",
        required=True,
        default="next_open_period",
        help="Events dated in a period already invoiced are counted in the next open "
        "period, or rejected.",
    )
    rounding_digits = fields.Integer(
        string="Rounding (decimals)",
        default=3,
        help="Decimals the aggregated quantity is rounded to (half up) before pricing.",
    )

    _sql_constraints = [
        (
            "code_company_uniq",
            "UNIQUE(code, company_id)",
            "A metric with this code already exists in this company.",
        ),
        (
            "rounding_digits_range",
            "CHECK(rounding_digits BETWEEN 0 AND 6)",
            "The rounding of a metric must be between 0 and 6 decimals.",
        ),
    ]

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("uom_id")
    def _compute_unit_label(self):
        for metric in self:
            if metric.uom_id:
                metric.unit_label = metric.uom_id.name

    @api.constrains("aggregation", "unique_property")
    def _check_unique_property(self):
        for metric in self:
            if metric.aggregation == "count_unique" and not metric.unique_property:
                raise ValidationError(
                    _(
                        "Metric %(metric)s counts unique values: set the property to count "
                        "(field Unique Property).",
                        metric=metric.display_name,
                    )
                )

    @api.depends("code", "name")
    def _compute_display_name(self):
        for metric in self:
            metric.display_name = f"[{metric.code}] {metric.name}" if metric.code else metric.name

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    def _round_quantity(self, quantity):
        self.ensure_one()
        return rating.round_quantity(quantity, self.rounding_digits)

    def _get_time_unit_seconds(self):
        self.ensure_one()
        return {"day": 86400, "hour": 3600}.get(self.time_unit)
