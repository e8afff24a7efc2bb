from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.rbm_recurring.tools import check_staff_access

# Código de Defesa do Consumidor, art. 52 §1: the fine on a consumer's late
# payment is capped at 2% of the installment.
CONSUMER_FINE_CAP = 2.0

STEP_ACTIONS = [
    ("email", "Send email"),
    ("sms", "Send SMS"),
    ("activity", "Schedule activity"),
    ("card", "Charge saved card"),
    ("suspend", "Suspend contract"),
    ("cancel", "Cancel contract"),
    ("webhook", "Call webhook"),
    ("protest", "Flag for protest / credit bureau"),
]

# The installments of posted customer invoices, each with the policy that
# applies to it (``pol``): the customer's own policy of the invoice's company,
# else that company's default. One definition for the collection run and the
# late fees; the caller adds ``%(all_companies)s`` / ``%(company_ids)s``.
INSTALLMENT_POLICY_SQL = """
                  FROM account_move_line aml
                  JOIN account_move m ON m.id = aml.move_id
                  JOIN res_partner p ON p.id = m.commercial_partner_id
             LEFT JOIN rbm_collection_policy pp
                    ON pp.id = p.rbm_collection_policy_id
                   AND pp.company_id = m.company_id AND pp.active
             LEFT JOIN rbm_collection_policy dp
                    ON dp.company_id = m.company_id AND dp.is_default AND dp.active
             LEFT JOIN rbm_collection_policy pol ON pol.id = COALESCE(pp.id, dp.id)
                 WHERE m.move_type = 'out_invoice'
                   AND m.state = 'posted'
                   AND aml.display_type = 'payment_term'
                   AND aml.date_maturity IS NOT NULL
                   AND (%(all_companies)s OR m.company_id = ANY(%(company_ids)s))
"""


class RbmCollectionPolicy(models.Model):
    """A collection calendar (régua de cobrança): ordered steps at day offsets
    from the due date of each open installment, and the late-fee rules."""

    _name = "rbm.collection.policy"
    _description = "Collection Policy"
    _inherit = ["mail.thread"]
    _order = "company_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    is_default = fields.Boolean(
        string="Company Default",
        tracking=True,
        help="Applies to every customer of the company without a policy of their own.",
    )
    step_ids = fields.One2many("rbm.collection.step", "policy_id", string="Steps", copy=True)
    skip_past_steps = fields.Boolean(
        string="Skip Past Steps",
        default=True,
        help="When the policy starts applying to an installment after some of its steps' days "
        "(policy assigned late, invoice issued late), those steps are skipped instead of run "
        "all at once.",
    )
    date_start = fields.Date(
        string="Applies From",
        required=True,
        default=fields.Date.context_today,
        help="Installments paid before this day never get late fees from this policy.",
    )
    # late fees
    fine_percent = fields.Float(
        string="Fine (%)",
        default=2.0,
        digits=(5, 2),
        tracking=True,
        help="Multa: a one-time percentage of the installment paid late.",
    )
    interest_percent_month = fields.Float(
        string="Interest (% per month)",
        default=1.0,
        digits=(5, 4),
        tracking=True,
        help="Juros de mora, charged pro rata die: the monthly rate ÷ 30 for every day late.",
    )
    business_only = fields.Boolean(
        string="Business Customers Only",
        help="The policy is only used for companies, so the consumer cap on the fine does not "
        "apply.",
    )
    late_fee_mode = fields.Selection(
        [
            ("next_invoice", "On the next contract invoice"),
            ("debit", "Separate debit invoice"),
            ("none", "Do not charge"),
        ],
        string="Charge Late Fees",
        default="next_invoice",
        required=True,
        tracking=True,
        help="How fees computed on a late payment are charged when the bank did not collect "
        "them. Invoices without a contract always get a separate debit.",
    )
    late_fee_product_id = fields.Many2one(
        "product.product",
        string="Late Fee Product",
        default=lambda self: self.env.ref(
            "rbm_dunning.product_rbm_late_fee", raise_if_not_found=False
        ),
        check_company=True,
    )
    late_fee_minimum = fields.Monetary(
        string="Minimum Late Fee",
        currency_field="currency_id",
        help="Fees below this amount are not charged.",
    )
    partner_count = fields.Integer(compute="_compute_partner_count")

    def init(self):
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS rbm_collection_policy_one_default "
            "ON rbm_collection_policy (company_id) WHERE is_default AND active"
        )

    def _compute_partner_count(self):
        groups = self.env["res.partner"]._read_group(
            [("rbm_collection_policy_id", "in", self.ids)],
            ["rbm_collection_policy_id"],
            ["__count"],
        )
        counts = {policy.id: count for policy, count in groups}
        for policy in self:
            policy.partner_count = counts.get(policy.id, 0)

    @api.constrains("fine_percent", "interest_percent_month", "business_only")
    def _check_late_fees(self):
        for policy in self:
            if policy.fine_percent < 0 or policy.interest_percent_month < 0:
                raise ValidationError(
                    _(
                        "Policy %(policy)s: the fine and the interest rate cannot be negative.",
                        policy=policy.display_name,
                    )
                )
            if not policy.business_only and policy.fine_percent > CONSUMER_FINE_CAP:
                raise ValidationError(
                    _(
                        "Policy %(policy)s: the fine on consumers' late payments is capped at "
                        "%(cap)s%% by law (CDC art. 52). Lower the fine or mark the policy as "
                        "for business customers only.",
                        policy=policy.display_name,
                        cap=CONSUMER_FINE_CAP,
                    )
                )
            if policy.interest_percent_month > 10:
                raise ValidationError(
                    _(
                        "Policy %(policy)s: an interest rate of %(rate)s%% a month is not "
                        "plausible; enter the monthly rate (e.g. 1 for 1%% a month).",
                        policy=policy.display_name,
                        rate=policy.interest_percent_month,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("is_default") and vals.get("active", True):
                company_id = vals.get("company_id") or self.env.company.id
                self._check_default_free(self.env["res.company"].browse(company_id))
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("is_default") or vals.get("active") or vals.get("company_id"):
            for policy in self:
                if vals.get("is_default", policy.is_default) and vals.get("active", policy.active):
                    company_id = vals.get("company_id") or policy.company_id.id
                    self._check_default_free(
                        self.env["res.company"].browse(company_id), exclude=policy
                    )
        return super().write(vals)

    @api.model
    def _check_default_free(self, company, exclude=None):
        """One default policy per company (also a unique index): a clear
        message before the database refuses it."""
        domain = [("company_id", "=", company.id), ("is_default", "=", True)]
        if exclude:
            domain.append(("id", "not in", exclude.ids))
        existing = self.search(domain, limit=1)
        if existing:
            raise ValidationError(
                _(
                    "Company %(company)s already has a default collection policy (%(policy)s); "
                    "unset it first.",
                    company=company.display_name,
                    policy=existing.display_name,
                )
            )

    @api.constrains(
        "late_fee_mode", "late_fee_product_id", "fine_percent", "interest_percent_month"
    )
    def _check_late_fee_product(self):
        for policy in self:
            charges = policy.fine_percent or policy.interest_percent_month
            if charges and policy.late_fee_mode != "none" and not policy.late_fee_product_id:
                raise ValidationError(
                    _(
                        "Policy %(policy)s charges late fees: set the Late Fee Product.",
                        policy=policy.display_name,
                    )
                )

    def action_view_partners(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Customers"),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "domain": [("rbm_collection_policy_id", "=", self.id)],
        }

    def action_view_logs(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("rbm_dunning.rbm_collection_log_action")
        action["domain"] = [("policy_id", "=", self.id)]
        return action

    def _compute_late_fee(self, amount_late, amount_days, is_consumer, currency):
        """(fine, interest) of an installment of which ``amount_late`` was
        paid late, ``amount_days`` being Σ amount × days late over its
        payments: multa once on what was paid late, juros de mora simple and
        pro rata die (monthly rate ÷ 30 a day), each payment for its own days,
        each rounded to the currency. The consumer cap on the fine applies
        even if the policy was meant for businesses."""
        self.ensure_one()
        if amount_late <= 0 or amount_days <= 0:
            return 0.0, 0.0
        fine_rate = self.fine_percent
        if is_consumer:
            fine_rate = min(fine_rate, CONSUMER_FINE_CAP)
        fine = currency.round(amount_late * fine_rate / 100.0)
        interest = currency.round(amount_days * self.interest_percent_month / 100.0 / 30.0)
        return fine, interest


class RbmCollectionStep(models.Model):
    _name = "rbm.collection.step"
    _description = "Collection Policy Step"
    _order = "policy_id, day_offset, sequence, id"

    policy_id = fields.Many2one(
        "rbm.collection.policy", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="policy_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    name = fields.Char(compute="_compute_name", store=True, readonly=False, translate=True)
    day_offset = fields.Integer(
        string="Day",
        required=True,
        help="Days from the due date: -3 is three days before, 0 the due date, 10 ten days late.",
    )
    action = fields.Selection(STEP_ACTIONS, required=True, default="email")
    # what the action uses
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email Template",
        domain=[("model", "=", "account.move")],
        default=lambda self: self.env.ref(
            "rbm_dunning.mail_template_rbm_collection", raise_if_not_found=False
        ),
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS Template",
        domain=[("model", "=", "account.move")],
        default=lambda self: self.env.ref(
            "rbm_dunning.sms_template_rbm_collection", raise_if_not_found=False
        ),
    )
    activity_type_id = fields.Many2one("mail.activity.type", string="Activity Type")
    activity_user_id = fields.Many2one(
        "res.users",
        string="Collector",
        help="Who gets the activity; empty: the invoice's salesperson.",
    )
    activity_summary = fields.Char(translate=True)
    endpoint_id = fields.Many2one(
        "rbm.provisioning.endpoint",
        string="Webhook Endpoint",
        help="The endpoint receives a signed 'collection_step' event (same signature, retries "
        "and dead letter as the provisioning events).",
    )
    cancel_reason_id = fields.Many2one("rbm.cancel.reason", string="Cancellation Reason")
    # conditions
    min_overdue_amount = fields.Monetary(
        string="Minimum Amount Due",
        currency_field="currency_id",
        help="Run only when the installment's open amount is at least this.",
    )
    currency_id = fields.Many2one(related="policy_id.currency_id")
    partner_category_ids = fields.Many2many(
        "res.partner.category",
        string="Customer Tags",
        help="Run only for customers with one of these tags (empty: every customer).",
    )
    payment_mode = fields.Selection(
        selection="_selection_payment_mode",
        string="Payment Method",
        help="Run only for installments paid this way (empty: any).",
    )

    _sql_constraints = [
        (
            "day_offset_range",
            "CHECK (day_offset BETWEEN -60 AND 3650)",
            "A step's day must be between 60 days before and ten years after the due date.",
        )
    ]

    @api.model
    def _selection_payment_mode(self):
        """The contract's payment methods (one list, owned by the contract
        model and extended by the addons that add a method)."""
        return self.env["rbm.contract"]._fields["payment_mode"]._description_selection(self.env)

    @api.depends("action", "day_offset")
    def _compute_name(self):
        labels = dict(self._fields["action"]._description_selection(self.env))
        for step in self:
            if step.day_offset < 0:
                when = _("D%(day)s", day=step.day_offset)
            else:
                when = _("D+%(day)s", day=step.day_offset)
            step.name = f"{when} {labels.get(step.action, '')}".strip()

    @api.constrains("action", "mail_template_id", "sms_template_id", "endpoint_id", "day_offset")
    def _check_action(self):
        for step in self:
            missing = {
                "email": "mail_template_id",
                "sms": "sms_template_id",
                "webhook": "endpoint_id",
            }.get(step.action)
            if missing and not step[missing]:
                raise ValidationError(
                    _(
                        "Step %(step)s of policy %(policy)s: set the %(field)s.",
                        step=step.display_name,
                        policy=step.policy_id.display_name,
                        field=step._fields[missing].get_description(self.env)["string"],
                    )
                )
            if step.action in ("suspend", "cancel", "protest", "card") and step.day_offset < 0:
                raise ValidationError(
                    _(
                        "Step %(step)s of policy %(policy)s: a contract cannot be suspended, "
                        "cancelled, protested or charged again before the installment is due.",
                        step=step.display_name,
                        policy=step.policy_id.display_name,
                    )
                )
