from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

PERIOD_UNITS = [
    ("day", "Days"),
    ("week", "Weeks"),
    ("month", "Months"),
    ("year", "Years"),
]


class RbmPlan(models.Model):
    _name = "rbm.plan"
    _description = "Subscription Plan"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, translate=True, tracking=True)
    code = fields.Char(help="Short reference used by integrations.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Html(translate=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    currency_id = fields.Many2one(
        "res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
    )
    interval = fields.Integer(string="Billing Every", required=True, default=1, tracking=True)
    interval_unit = fields.Selection(
        PERIOD_UNITS,
        string="Billing Period Unit",
        required=True,
        default="month",
        tracking=True,
    )
    billing_mode = fields.Selection(
        [("advance", "In advance"), ("arrears", "In arrears")],
        required=True,
        default="advance",
        tracking=True,
        help="In advance: the period is invoiced on its first day.\n"
        "In arrears: the period is invoiced on the day after it ends.",
    )
    alignment = fields.Selection(
        [("anniversary", "Contract anniversary"), ("fixed_day", "Fixed billing day")],
        string="Billing Alignment",
        required=True,
        default="anniversary",
        help="Anniversary: periods start on the contract start date.\n"
        "Fixed billing day: periods start on a given day of the month; the first, "
        "partial period is prorated.",
    )
    billing_day = fields.Integer(
        default=1,
        help="Day of the month on which periods start when the alignment is a fixed "
        "billing day (29-31 mean the last day in shorter months).",
    )
    proration_day_count = fields.Selection(
        [("actual", "Actual days"), ("commercial", "30-day commercial month")],
        string="Proration Day Count",
        required=True,
        default="actual",
    )
    payment_term_id = fields.Many2one(
        "account.payment.term",
        check_company=True,
        help="Used for the due date when the contract has no due day.",
    )
    journal_id = fields.Many2one(
        "account.journal",
        domain="[('type', '=', 'sale')]",
        check_company=True,
        help="Sales journal of the invoices; the company's default sales journal when empty.",
    )
    posting_policy = fields.Selection(
        [
            ("draft", "Leave as draft"),
            ("post", "Post"),
            ("post_send", "Post and send by email"),
        ],
        required=True,
        default="post",
    )
    line_ids = fields.One2many("rbm.plan.line", "plan_id", string="Plan Lines", copy=True)
    contract_ids = fields.One2many("rbm.contract", "plan_id", string="Contracts")
    contract_count = fields.Integer(compute="_compute_contract_count")
    recurring_total = fields.Monetary(
        string="Price per Period",
        compute="_compute_recurring_total",
        currency_field="currency_id",
    )
    period_label = fields.Char(compute="_compute_period_label")

    _sql_constraints = [
        ("interval_positive", "CHECK(interval > 0)", "The billing period must be at least 1."),
        (
            "billing_day_range",
            "CHECK(billing_day BETWEEN 1 AND 31)",
            "The billing day must be between 1 and 31.",
        ),
    ]

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    def _compute_contract_count(self):
        data = self.env["rbm.contract"]._read_group(
            [("plan_id", "in", self.ids)], ["plan_id"], ["__count"]
        )
        counts = {plan.id: count for plan, count in data}
        for plan in self:
            plan.contract_count = counts.get(plan.id, 0)

    @api.depends("line_ids.subtotal", "line_ids.line_type")
    def _compute_recurring_total(self):
        for plan in self:
            plan.recurring_total = sum(
                plan.line_ids.filtered(lambda line: line.line_type == "recurring").mapped(
                    "subtotal"
                )
            )

    @api.depends("interval", "interval_unit")
    def _compute_period_label(self):
        labels = {
            "day": (_("Daily"), _("Every %(n)s days")),
            "week": (_("Weekly"), _("Every %(n)s weeks")),
            "month": (_("Monthly"), _("Every %(n)s months")),
            "year": (_("Yearly"), _("Every %(n)s years")),
        }
        named = {("month", 3): _("Quarterly"), ("month", 6): _("Half-yearly")}
        for plan in self:
            if not plan.interval_unit:
                plan.period_label = False
                continue
            one, many = labels[plan.interval_unit]
            if plan.interval == 1:
                plan.period_label = one
            else:
                plan.period_label = named.get(
                    (plan.interval_unit, plan.interval), many % {"n": plan.interval}
                )

    # ------------------------------------------------------------
    # CONSTRAINT METHODS
    # ------------------------------------------------------------

    @api.constrains("alignment", "interval_unit")
    def _check_alignment(self):
        for plan in self:
            if plan.alignment == "fixed_day" and plan.interval_unit not in ("month", "year"):
                raise ValidationError(
                    _(
                        "Plan %(plan)s: a fixed billing day needs a period in months or "
                        "years (field Billing Alignment).",
                        plan=plan.display_name,
                    )
                )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_contracts(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_recurring.rbm_contract_action")
        action["domain"] = [("plan_id", "=", self.id)]
        action["context"] = {"default_plan_id": self.id}
        return action
