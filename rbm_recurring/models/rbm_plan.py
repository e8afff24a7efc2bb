from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import COMMITMENT_END_ACTIONS, check_staff_access

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
    # trial, commitment, renewal
    trial_days = fields.Integer(help="Days of free trial before the first invoice.")
    trial_requires_payment = fields.Boolean(
        string="Trial Requires a Payment Method",
        help="At the end of the trial, a contract with no payment method expires "
        "instead of becoming active.",
    )
    trial_reminder_days = fields.Integer(
        default=3,
        help="The trial reminder is sent this many days before the last day of the trial "
        "(counted back from that day).",
    )
    commitment_months = fields.Integer(
        string="Commitment (months)",
        help="Minimum term (vigência/fidelidade); leaving earlier costs the early-termination fee.",
    )
    early_termination_fee_type = fields.Selection(
        [
            ("none", "None"),
            ("fixed", "Fixed amount"),
            ("percent", "Percentage of the remaining months"),
        ],
        default="none",
        required=True,
    )
    early_termination_fee = fields.Float(
        string="Early-Termination Fee",
        help="Fixed amount, or percentage of the MRR of each remaining month of commitment.",
    )
    commitment_end_action = fields.Selection(
        COMMITMENT_END_ACTIONS,
        string="At the End of the Commitment",
        default="continue",
        required=True,
        help="Continue without commitment: billing goes on at the current price and the "
        "contract can be cancelled without a fee from the day after the commitment ends. "
        "Renew the commitment: a new commitment of the renewal term starts and the "
        "early-termination fee applies again. End the contract: it expires on the last day "
        "of the commitment. Each contract may override it.",
    )
    renewal_months = fields.Integer(
        string="Renewal Term (months)",
        default=12,
        help="Length of each renewed commitment (with 'Renew the commitment').",
    )
    renewal_notice_days = fields.Integer(
        default=30,
        help="The renewal notice is sent this many days before the last day of the commitment "
        "(counted back from that day), when the commitment renews.",
    )
    # changes and cancellation
    upgrade_timing = fields.Selection(
        [("now", "Immediately"), ("period_end", "At period end")],
        default="now",
        required=True,
    )
    downgrade_timing = fields.Selection(
        [("now", "Immediately"), ("period_end", "At period end")],
        default="period_end",
        required=True,
    )
    credit_policy = fields.Selection(
        [("credit_note", "Credit note now"), ("next_invoice", "Deduct on the next invoice")],
        string="Unused Part Credit",
        default="next_invoice",
        required=True,
        help="In advance: how the unused part of a replaced price is credited.",
    )
    charge_policy = fields.Selection(
        [("invoice_now", "Invoice now"), ("next_invoice", "Add to the next invoice")],
        string="Remaining Part Charge",
        default="invoice_now",
        required=True,
        help="In advance: how the remaining part of the new price is charged.",
    )
    addon_product_ids = fields.Many2many(
        "product.product",
        string="Allowed Add-ons",
        help="Products a customer may add to a contract of this plan.",
    )
    # self-service (portal)
    self_service = fields.Boolean(
        string="Offered for Self-Service",
        help="Customers may switch to this plan from the portal, from a plan of the same "
        "family or whose upgrade path lists it.",
    )
    family_id = fields.Many2one(
        "rbm.plan.family",
        string="Plan Family",
        index="btree_not_null",
        help="Plans of one family are alternatives to one another: a customer may switch "
        "between its self-service plans from the portal.",
    )
    upgrade_plan_ids = fields.Many2many(
        "rbm.plan",
        "rbm_plan_upgrade_rel",
        "plan_id",
        "target_plan_id",
        string="Upgrade Path",
        check_company=True,
        help="Other plans customers of this plan may move to from the portal, besides its "
        "family (they must be offered for self-service too).",
    )
    addon_max_quantity = fields.Float(
        string="Add-on Max Quantity",
        digits="Product Unit of Measure",
        default=10.0,
        help="Most units of one add-on a customer may have when they add it or change "
        "its quantity from the portal.",
    )
    cancel_refund = fields.Boolean(
        string="Refund Unused Period on Cancellation",
        help="When a pre-paid contract is cancelled immediately, credit the unused part of "
        "the period.",
    )
    suspension_billing = fields.Selection(
        [("keep", "Keep billing"), ("pause", "Pause billing")],
        string="Billing While Suspended",
        default="pause",
        required=True,
    )
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
            "terms_not_negative",
            "CHECK(trial_days >= 0 AND commitment_months >= 0 AND renewal_months >= 0 "
            "AND early_termination_fee >= 0)",
            "Trial days, commitment, renewal term and fee must not be negative.",
        ),
        (
            "billing_day_range",
            "CHECK(billing_day BETWEEN 1 AND 31)",
            "The billing day must be between 1 and 31.",
        ),
        (
            "addon_max_quantity_positive",
            "CHECK(addon_max_quantity > 0)",
            "The add-on max quantity must be positive.",
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

    @api.constrains("upgrade_plan_ids")
    def _check_upgrade_plan_ids(self):
        for plan in self:
            if plan in plan.upgrade_plan_ids:
                raise ValidationError(
                    _(
                        "Plan %(plan)s cannot be in its own upgrade path (field Upgrade Path).",
                        plan=plan.display_name,
                    )
                )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_contracts(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_recurring.rbm_contract_action")
        action["domain"] = [("plan_id", "=", self.id)]
        action["context"] = {"default_plan_id": self.id}
        return action

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    def _get_self_service_domain(self, company):
        """Plans a customer of this plan (in ``company``) may switch to from the
        portal: offered for self-service, in its family or upgrade path, and
        that a change can reach (same company, currency and billing period)."""
        self.ensure_one()
        paths = [("id", "in", self.upgrade_plan_ids.ids)]
        if self.family_id:
            paths = ["|", ("family_id", "=", self.family_id.id), *paths]
        return [
            ("id", "!=", self.id),
            ("self_service", "=", True),
            *paths,
            ("currency_id", "=", self.currency_id.id),
            ("company_id", "in", [company.id, False]),
            ("interval_unit", "=", self.interval_unit),
            ("interval", "=", self.interval),
            ("billing_mode", "=", self.billing_mode),
        ]
