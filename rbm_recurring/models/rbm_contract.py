import logging
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_date, formatLang

from ..engine import money, periods
from ..tools import COMMITMENT_END_ACTIONS, check_staff_access

_logger = logging.getLogger(__name__)

# Catch-up safety net: a contract never bills more periods than this in one run.
MAX_PERIODS_PER_RUN = 400


class RbmContract(models.Model):
    _name = "rbm.contract"
    _description = "Subscription Contract"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(
        string="Number",
        required=True,
        copy=False,
        readonly=True,
        index="trigram",
        default=lambda self: _("New"),
    )
    reference = fields.Char(
        string="Customer Reference",
        copy=False,
        index=True,
        help="The customer's own reference for this contract (used by integrations).",
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        tracking=True,
        index=True,
        check_company=True,
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index=True
    )
    plan_id = fields.Many2one(
        "rbm.plan", required=True, tracking=True, index=True, check_company=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        required=True,
        precompute=True,
    )
    user_id = fields.Many2one(
        "res.users", string="Salesperson", default=lambda self: self.env.user, tracking=True
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("trial", "Trial"),
            ("active", "Active"),
            ("suspended", "Suspended"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
            ("expired", "Expired"),
        ],
        required=True,
        default="draft",
        tracking=True,
        index=True,
        copy=False,
        group_expand="_expand_states",
    )
    date_start = fields.Date(
        string="Start Date", required=True, default=fields.Date.context_today, tracking=True
    )
    date_end = fields.Date(
        string="End Date",
        tracking=True,
        copy=False,
        help="Last day of service; the last period is prorated up to it.",
    )
    period_anchor = fields.Date(
        copy=False,
        readonly=True,
        help="Start of the first full billing period; every period is counted from it.",
    )
    billing_day = fields.Integer(
        copy=False,
        readonly=True,
        help="Day of the month periods start on, for plans with a fixed billing day.",
    )
    next_period_start = fields.Date(
        copy=False,
        readonly=True,
        index=True,
        help="First day of the next period to be invoiced.",
    )
    next_invoice_date = fields.Date(
        compute="_compute_next_invoice_date",
        store=True,
        index=True,
        copy=False,
    )
    due_day = fields.Integer(
        compute="_compute_due_day",
        store=True,
        readonly=False,
        precompute=True,
        help="Day of the month on which invoices fall due (0: use the payment term).",
    )
    payment_term_id = fields.Many2one(
        "account.payment.term",
        compute="_compute_payment_term_id",
        store=True,
        readonly=False,
        precompute=True,
        check_company=True,
    )
    line_ids = fields.One2many("rbm.contract.line", "contract_id", string="Lines", copy=True)
    invoice_ids = fields.One2many("account.move", "rbm_contract_id", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_invoice_count")
    recurring_total = fields.Monetary(
        string="Price per Period",
        compute="_compute_amounts",
        store=True,
    )
    mrr = fields.Monetary(
        string="MRR",
        compute="_compute_amounts",
        store=True,
        help="Monthly recurring revenue: the recurring price brought to one month.",
    )
    next_invoice_amount = fields.Monetary(
        string="Next Invoice Amount",
        compute="_compute_next_invoice_amount",
        help="Untaxed amount of the next invoice as it would be billed today (recurring lines, "
        "fee installments, campaign discount and pending charges; usage comes on top).",
    )
    trial_end = fields.Date(copy=False, readonly=True, help="Last day of the free trial.")
    trial_reminder_sent = fields.Boolean(copy=False, readonly=True)
    commitment_end = fields.Date(
        copy=False, tracking=True, help="Last day of the commitment (vigência/fidelidade)."
    )
    commitment_end_action = fields.Selection(
        COMMITMENT_END_ACTIONS,
        string="At the End of the Commitment",
        compute="_compute_commitment_end_action",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
        help="Continue without commitment: billing goes on at the current price and "
        "cancelling costs no fee from the day after the commitment ends. Renew the "
        "commitment: a new commitment of the plan's renewal term starts and the "
        "early-termination fee applies again. End the contract: it expires on the last day "
        "of the commitment. Taken from the plan; may be changed per contract.",
    )
    renewal_months = fields.Integer(
        string="Renewal Term (months)",
        compute="_compute_renewal_months",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
        help="Length of each renewed commitment when the contract renews it. Taken from the "
        "plan; may be changed per contract.",
    )
    commitment_info = fields.Char(
        string="Early-Termination Fee",
        compute="_compute_commitment_info",
        help="The commitment end date and the early-termination fee a cancellation today "
        "would cost.",
    )
    renewal_notice_sent = fields.Date(
        copy=False, readonly=True, help="Commitment end the renewal notice was sent for."
    )
    # the collection addons add their own methods (boleto, Pix, direct debit)
    payment_mode = fields.Selection(
        [("invoice", "Invoice (bank transfer)"), ("card", "Card")],
        string="Payment Method",
        tracking=True,
    )
    payment_token_id = fields.Many2one(
        "payment.token",
        string="Saved Card",
        domain="[('partner_id', 'child_of', commercial_partner_id)]",
        check_company=True,
        copy=False,
    )
    suspended_since = fields.Date(copy=False, readonly=True)
    cancel_reason_id = fields.Many2one(
        "rbm.cancel.reason",
        copy=False,
        tracking=True,
        groups="rbm_recurring.rbm_recurring_group_user,account.group_account_invoice",
    )
    cancel_date = fields.Date(string="Cancellation Date", copy=False, readonly=True)
    campaign_id = fields.Many2one(
        "rbm.campaign",
        copy=False,
        tracking=True,
        check_company=True,
        domain="[('plan_ids', 'in', [plan_id])]",
    )
    campaign_periods_left = fields.Integer(copy=False, readonly=True)
    charge_ids = fields.One2many("rbm.contract.charge", "contract_id", string="One-off Charges")
    change_ids = fields.One2many("rbm.contract.change", "contract_id", string="Changes")
    mrr_event_ids = fields.One2many("rbm.mrr.event", "contract_id", string="MRR Movements")
    billing_error = fields.Text(
        copy=False,
        readonly=True,
        groups="rbm_recurring.rbm_recurring_group_user,account.group_account_invoice",
    )
    billing_error_date = fields.Date(
        copy=False,
        readonly=True,
        groups="rbm_recurring.rbm_recurring_group_user,account.group_account_invoice",
    )
    billing_failed = fields.Boolean(
        compute="_compute_billing_failed",
        help="The last billing run failed for this contract (its reason is shown to staff).",
    )
    note = fields.Html(string="Terms and Conditions")

    _sql_constraints = [
        (
            "due_day_range",
            "CHECK(due_day BETWEEN 0 AND 31)",
            "The due day must be between 1 and 31 (0 to use the payment term).",
        ),
    ]

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("billing_error")
    def _compute_billing_failed(self):
        # the reason stays for staff; whether the run failed decorates the lists
        # and forms of everyone who may open them
        for contract, error in zip(self, self.sudo().mapped("billing_error"), strict=True):
            contract.billing_failed = bool(error)

    @api.depends("plan_id")
    def _compute_currency_id(self):
        for contract in self:
            contract.currency_id = (
                contract.plan_id.currency_id
                or contract.currency_id
                or contract.company_id.currency_id
                or self.env.company.currency_id
            )

    @api.depends("partner_id")
    def _compute_due_day(self):
        for contract in self:
            contract.due_day = contract.partner_id.rbm_preferred_due_day or contract.due_day or 0

    @api.depends("plan_id")
    def _compute_payment_term_id(self):
        for contract in self:
            contract.payment_term_id = (
                contract.plan_id.payment_term_id
                or contract.partner_id.property_payment_term_id
                or contract.payment_term_id
            )

    @api.depends(
        "plan_id.suspension_billing",
        "next_period_start",
        "plan_id.billing_mode",
        "plan_id.interval",
        "plan_id.interval_unit",
        "period_anchor",
        "billing_day",
        "date_end",
        "state",
    )
    def _compute_next_invoice_date(self):
        for contract in self:
            period = contract._get_next_period()
            contract.next_invoice_date = period and period["invoice_date"]

    def _compute_invoice_count(self):
        data = self.env["account.move"]._read_group(
            [("rbm_contract_id", "in", self.ids)], ["rbm_contract_id"], ["__count"]
        )
        counts = {contract.id: count for contract, count in data}
        for contract in self:
            contract.invoice_count = counts.get(contract.id, 0)

    def _expand_states(self, states, domain):
        """Kanban columns in the order of the life cycle: the running states
        always, the ended ones when they hold contracts."""
        running = ("draft", "trial", "active", "suspended")
        return [
            state
            for state, _label in self._fields["state"].selection
            if state in running or state in states
        ]

    @api.depends("next_invoice_date", "line_ids", "campaign_id", "state")
    def _compute_next_invoice_amount(self):
        for contract in self:
            billable = contract.state in ("trial", "active") and contract.next_invoice_date
            contract.next_invoice_amount = (
                contract._get_next_invoice_preview() if billable and contract.id else 0.0
            )

    @api.depends(
        "line_ids.subtotal",
        "line_ids.line_type",
        "line_ids.date_end",
        "plan_id.interval",
        "plan_id.interval_unit",
        "campaign_id",
        "campaign_periods_left",
    )
    def _compute_amounts(self):
        for contract in self:
            total = sum(contract._get_current_recurring_lines().mapped("subtotal"))
            contract.recurring_total = total
            contract.mrr = contract._get_mrr_of(
                total, with_campaign=contract.campaign_periods_left > 0
            )

    @api.depends("plan_id")
    def _compute_commitment_end_action(self):
        for contract in self:
            if contract.state in (False, "draft") or not contract.commitment_end_action:
                contract.commitment_end_action = (
                    contract.plan_id.commitment_end_action or "continue"
                )

    @api.depends("plan_id")
    def _compute_renewal_months(self):
        for contract in self:
            if contract.state in (False, "draft") or not contract.renewal_months:
                contract.renewal_months = contract.plan_id.renewal_months or 12

    @api.constrains("renewal_months")
    def _check_renewal_months(self):
        for contract in self:
            if contract.renewal_months < 1:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, Renewal Term (months): at least 1 month.",
                        contract=contract.display_name,
                    )
                )

    @api.depends("commitment_end", "commitment_end_action", "mrr", "state")
    @api.depends_context("lang")
    def _compute_commitment_info(self):
        today = fields.Date.context_today(self)
        for contract in self:
            contract.commitment_info = contract._get_commitment_info(today)["text"]

    def _get_mrr_of(self, recurring_total, plan=None, with_campaign=False):
        """MRR of a recurring price per period of ``plan`` (the contract's by
        default): less the campaign discount when ``with_campaign``, brought to
        one month and rounded by the currency."""
        self.ensure_one()
        plan = plan or self.plan_id
        if not plan.interval_unit:
            return 0.0
        total = recurring_total
        if with_campaign and self.campaign_id:
            total -= self.campaign_id._get_discount(total, self.currency_id)
        factor = periods.monthly_factor(plan.interval_unit, plan.interval)
        return self.currency_id.round(float(periods.to_decimal(total) * factor))

    def _has_billable_lines(self):
        """Whether the contract has something to bill every period (extension
        point: metered usage lines count too)."""
        self.ensure_one()
        return bool(self._get_current_recurring_lines())

    def _get_current_recurring_lines(self):
        return self.line_ids.filtered(
            lambda line: line.line_type == "recurring" and line.is_current
        )

    def _compute_access_url(self):
        super()._compute_access_url()
        for contract in self:
            contract.access_url = f"/my/subscriptions/{contract.id}"

    # ------------------------------------------------------------
    # CONSTRAINT / ONCHANGE METHODS
    # ------------------------------------------------------------

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for contract in self:
            if contract.date_end and contract.date_end < contract.date_start:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: the end date must not be before the start "
                        "date (field End Date).",
                        contract=contract.display_name,
                    )
                )

    @api.constrains("payment_token_id", "partner_id")
    def _check_payment_token_partner(self):
        """The saved card is the customer's own: a card saved by another
        customer is never charged for this contract."""
        for contract in self.filtered("payment_token_id"):
            token_sudo = contract.payment_token_id.sudo()
            if token_sudo.partner_id.commercial_partner_id != contract.commercial_partner_id:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: the saved card %(card)s was not saved by the "
                        "customer %(customer)s (field Saved Card).",
                        contract=contract.display_name,
                        card=token_sudo.display_name,
                        customer=contract.commercial_partner_id.display_name,
                    )
                )

    @api.onchange("plan_id")
    def _onchange_plan_id(self):
        if self.plan_id and self.state == "draft":
            self.line_ids = [fields.Command.clear()] + [
                fields.Command.create(line._prepare_contract_line_vals())
                for line in self.plan_id.line_ids
            ]

    # ------------------------------------------------------------
    # CRUD METHODS
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code(
                    "rbm.contract"
                ) or _("New")
            if "line_ids" not in vals and vals.get("plan_id"):
                plan = self.env["rbm.plan"].browse(vals["plan_id"])
                vals["line_ids"] = [
                    fields.Command.create(line._prepare_contract_line_vals())
                    for line in plan.line_ids
                ]
        return super().create(vals_list)

    def write(self, vals):
        customers = self.commercial_partner_id if "partner_id" in vals else None
        result = super().write(vals)
        if "commitment_end_action" in vals:
            self._sync_commitment_date_end()
        if customers is not None and self.mrr_event_ids:
            # the movements follow the contract to its new customer: both
            # customers' movements are typed again
            self.env["rbm.mrr.event"]._reclassify_customer_events(
                (customers | self.commercial_partner_id).ids
            )
        return result

    def _sync_commitment_date_end(self):
        """A running contract that ends with its commitment stops on its last
        day; one that continues or renews no longer does."""
        today = fields.Date.context_today(self)
        for contract in self.filtered(
            lambda c: (
                c.state in ("trial", "active", "suspended")
                and c.commitment_end
                and not c.cancel_date
            )
        ):
            if contract.commitment_end_action == "end" and not contract.date_end:
                if contract.commitment_end < today:
                    raise UserError(
                        _(
                            "Contract %(contract)s: its commitment already ended on %(date)s, "
                            "it cannot end with it (field At the End of the Commitment); "
                            "cancel the contract instead.",
                            contract=contract.display_name,
                            date=format_date(self.env, contract.commitment_end),
                        )
                    )
                contract.date_end = contract.commitment_end
            elif (
                contract.commitment_end_action != "end"
                and contract.date_end == contract.commitment_end
            ):
                contract.date_end = False

    @api.ondelete(at_uninstall=False)
    def _unlink_except_not_draft(self):
        if any(contract.state != "draft" for contract in self):
            raise UserError(_("Only draft contracts can be deleted; close the others instead."))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_activate(self):
        check_staff_access(self, "write")
        for contract in self:
            if contract.state != "draft":
                raise UserError(
                    _("Contract %(contract)s is not a draft.", contract=contract.display_name)
                )
            if not contract._has_billable_lines():
                raise UserError(
                    _(
                        "Contract %(contract)s has no recurring line to bill (tab Lines).",
                        contract=contract.display_name,
                    )
                )
            contract._check_campaign()
            vals = contract._prepare_activation_vals()
            if vals["state"] == "trial":
                contract.write(vals)
                contract._emit_provisioning("trial_started")
                continue
            with contract._track_mrr("start", date=contract.date_start):
                contract.write(vals)
            contract._emit_provisioning("activated")
        return True

    def _prepare_activation_vals(self):
        self.ensure_one()
        plan = self.plan_id
        first_day = self.date_start
        vals = {"state": "active"}
        if plan.trial_days:
            vals["state"] = "trial"
            vals["trial_end"] = first_day + timedelta(days=plan.trial_days - 1)
            first_day = vals["trial_end"] + timedelta(days=1)
        billing_day = 0
        if plan.alignment == "fixed_day":
            billing_day = plan.billing_day
            anchor = periods.aligned_anchor(first_day, billing_day)
        else:
            anchor = first_day
        vals.update(period_anchor=anchor, billing_day=billing_day, next_period_start=first_day)
        if plan.commitment_months and not self.commitment_end:
            vals["commitment_end"] = (
                first_day + relativedelta(months=plan.commitment_months) - timedelta(days=1)
            )
            if self.commitment_end_action == "end" and not self.date_end:
                vals["date_end"] = vals["commitment_end"]
        if self.campaign_id:
            vals["campaign_periods_left"] = self.campaign_id.period_count
        return vals

    def action_suspend(self):
        check_staff_access(self, "write")
        for contract in self:
            if contract.state != "active":
                raise UserError(
                    _(
                        "Only active contracts can be suspended (%(contract)s).",
                        contract=contract.display_name,
                    )
                )
        self._suspend()
        return True

    def _suspend(self, date=None):
        """Suspend active contracts (called by collection for non-payment)."""
        date = date or fields.Date.context_today(self)
        contracts = self.filtered(lambda c: c.state == "active")
        if not contracts:
            return self.browse()
        # in arrears, a plan that pauses billing invoices the days used before
        # the suspension now
        used = contracts.filtered(
            lambda c: (
                c.plan_id.suspension_billing == "pause"
                and c.plan_id.billing_mode == "arrears"
                and c.next_period_start
                and c.next_period_start < date
            )
        )
        if used:
            self.env["rbm.billing.run"]._bill(used, date, until=date - timedelta(days=1))
        with contracts._track_mrr("suspension", date=date):
            contracts.write({"state": "suspended", "suspended_since": date})
        contracts._emit_provisioning("suspended")
        return contracts

    def action_reactivate(self):
        check_staff_access(self, "write")
        for contract in self:
            if contract.state != "suspended":
                raise UserError(
                    _(
                        "Only suspended contracts can be reactivated (%(contract)s).",
                        contract=contract.display_name,
                    )
                )
        self._reactivate()
        return True

    def _reactivate(self, date=None):
        """Reactivate suspended contracts (called by collection once paid).
        With a plan that pauses billing, the days suspended are never billed:
        billing resumes on the reactivation day."""
        date = date or fields.Date.context_today(self)
        contracts = self.filtered(lambda c: c.state == "suspended")
        with contracts._track_mrr("reactivation", date=date):
            for contract in contracts:
                vals = {"state": "active", "suspended_since": False}
                if (
                    contract.plan_id.suspension_billing == "pause"
                    and contract.next_period_start
                    and contract.next_period_start < date
                ):
                    vals["next_period_start"] = date
                contract.write(vals)
        contracts._emit_provisioning("reactivated")
        return contracts

    def action_close(self):
        check_staff_access(self, "write")
        for contract in self:
            if contract.state not in ("active", "suspended"):
                raise UserError(
                    _(
                        "Only running contracts can be closed (%(contract)s).",
                        contract=contract.display_name,
                    )
                )
        today = fields.Date.context_today(self)
        with self._track_mrr("cancellation", date=today):
            for contract in self:
                vals = {"state": "closed"}
                if not contract.date_end or contract.date_end > today:
                    vals["date_end"] = max(today, contract.date_start)
                contract.write(vals)
        self._emit_provisioning("closed")
        return True

    def action_cancel_wizard(self):
        check_staff_access(self, "write")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Cancel Contract"),
            "res_model": "rbm.contract.cancel.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def action_change_wizard(self):
        check_staff_access(self, "write")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Change Contract"),
            "res_model": "rbm.contract.change.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def _emit_provisioning(self, event_type):
        if self:
            self.env["rbm.provisioning.event"].sudo()._emit(self, event_type)

    def _check_campaign(self):
        for contract in self.filtered("campaign_id"):
            contract.campaign_id._check_applicable(contract)

    def action_view_invoices(self):
        check_staff_access(self, "read")
        return self._get_invoices_action()

    def _get_invoices_action(self, invoices=None):
        """The contract's invoices (``invoices``: only those); one opens in its form."""
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("account.action_move_out_invoice_type")
        action["domain"] = [("rbm_contract_id", "=", self.id)]
        if invoices is not None:
            action["domain"] = [("id", "in", invoices.ids)]
        action["context"] = {"default_move_type": "out_invoice", "create": False}
        if invoices is not None and len(invoices) == 1:
            action.update(
                {
                    "views": [(self.env.ref("account.view_move_form").id, "form")],
                    "view_mode": "form",
                    "res_id": invoices.id,
                }
            )
        return action

    def action_bill_now(self):
        """Invoice every period of these contracts that is due today (button)."""
        check_staff_access(self, "write")
        today = fields.Date.context_today(self)
        contracts = self.filtered(lambda c: c._is_billable())
        if not contracts:
            raise UserError(_("These contracts are not billed in their current state."))
        Run = self.env["rbm.billing.run"]
        result = Run._bill(Run._lock(contracts, wait=True), today)
        if result["failed"]:
            contract, error = next(iter(result["failed"].items()))
            raise UserError(
                _(
                    "Contract %(contract)s could not be invoiced: %(error)s",
                    contract=contract.display_name,
                    error=error,
                )
            )
        if not result["moves"]:
            raise UserError(
                _(
                    "Nothing to invoice today: the next invoice date is %(date)s.",
                    date=format_date(self.env, contracts[:1].next_invoice_date)
                    if contracts[:1].next_invoice_date
                    else "-",
                )
            )
        if len(self) == 1:
            return self._get_invoices_action(result["moves"])
        return True

    # ------------------------------------------------------------
    # BILLING ENGINE
    # ------------------------------------------------------------

    def _get_period_after(self, period_start, until=None):
        """Description of the period that starts at ``period_start``, clipped to
        the contract's end (and to ``until``); ``False`` when it lies after."""
        self.ensure_one()
        plan = self.plan_id
        anchor = self.period_anchor
        if not (period_start and anchor and plan):
            return False
        last_day = min(d for d in (self.date_end, until) if d) if (self.date_end or until) else None
        if last_day and period_start > last_day:
            return False
        unit, interval = plan.interval_unit, plan.interval
        day = self.billing_day or None
        index = periods.period_index(anchor, unit, interval, period_start, day)
        full_start, full_end = periods.period_bounds(anchor, unit, interval, index, day)
        end = min(full_end, last_day) if last_day else full_end
        if until or plan.billing_mode == "arrears":
            invoice_date = end + timedelta(days=1)
        else:
            invoice_date = period_start
        if until:
            invoice_date = min(invoice_date, until + timedelta(days=1))
        return {
            "start": period_start,
            "end": end,
            "full_start": full_start,
            "full_end": full_end,
            "invoice_date": invoice_date,
            "next_start": end + timedelta(days=1),
        }

    def _get_next_period(self):
        self.ensure_one()
        if not self._is_billable():
            return False
        return self._get_period_after(self.next_period_start)

    def _is_billable(self):
        """Active contracts are billed; suspended ones when their plan keeps
        billing; ended ones (closed, cancelled, expired) until their end date."""
        self.ensure_one()
        if self.state == "active":
            return True
        if self.state == "suspended":
            return self.plan_id.suspension_billing == "keep"
        return self.state in ("closed", "cancelled", "expired") and bool(self.date_end)

    @api.model
    def _get_mrr_states(self):
        """States whose contracts bring in MRR."""
        return ("active",)

    def _get_due_periods(self, today, until=None):
        """Every period of the contract whose invoice date has come."""
        self.ensure_one()
        result = []
        period = (
            self._get_next_period()
            if not until
            else self._get_period_after(self.next_period_start, until)
        )
        while period and period["invoice_date"] <= today:
            result.append(period)
            if len(result) >= MAX_PERIODS_PER_RUN:
                break
            period = self._get_period_after(period["next_start"], until)
        return result

    def _prorate(self, amount, full_start, full_end, start, end, quantum):
        """Part of ``amount`` (a full period's price) for ``[start, end]`` of the
        period ``[full_start, full_end]``, with the plan's day count."""
        self.ensure_one()
        plan = self.plan_id
        return periods.prorate_interval(
            amount,
            full_start,
            full_end,
            start,
            end,
            plan.interval_unit,
            plan.interval,
            plan.proration_day_count,
            quantum,
        )

    def _get_period_containing(self, day):
        """Bounds of the billing period (of the contract's plan) containing ``day``."""
        self.ensure_one()
        plan = self.plan_id
        anchor = self.period_anchor or self.date_start
        bill_day = self.billing_day or None
        start, end = periods.period_containing(
            anchor, plan.interval_unit, plan.interval, day, bill_day
        )
        return {"full_start": start, "full_end": end}

    def _is_invoiced_on(self, day):
        """Whether a period invoice of the contract already covers ``day``."""
        self.ensure_one()
        return bool(
            self.env["account.move"].search_count(
                [
                    ("rbm_contract_id", "=", self.id),
                    ("move_type", "=", "out_invoice"),
                    ("state", "!=", "cancel"),
                    ("rbm_period_start", "<=", day),
                    ("rbm_period_end", ">=", day),
                ],
                limit=1,
            )
        )

    def _create_document(self, move_type, items, date, change=None, extra_vals=None):
        """An invoice or credit note now, outside the period invoices: the
        prorated part of a change, a refund, an early-termination fee."""
        self.ensure_one()
        vals = self._prepare_invoice_header(move_type, date)
        vals["rbm_change_id"] = change.id if change else False
        vals["invoice_line_ids"] = [
            fields.Command.create(
                {
                    "display_type": "product",
                    "product_id": item["product"].id,
                    "product_uom_id": item["product"].uom_id.id,
                    "name": item["name"],
                    "quantity": 1.0,
                    "price_unit": float(item["amount"]),
                }
            )
            for item in items
        ]
        vals.update(extra_vals or {})
        move = self.env["account.move"].create(vals)
        self.env["rbm.billing.run"]._post_invoices(move)
        return move

    def _prepare_invoice_header(self, move_type, invoice_date, debit_of=None):
        """Header values of every invoice or credit note a contract creates:
        the period invoices (``_prepare_invoice_vals``), the documents of a
        change, a refund or an early-termination fee (``_create_document``) and
        the debit invoice of a late fee (``debit_of``: the invoice it is the
        debit of, whose customer, journal and payment terms it follows; it is
        not one of the contract's period documents, so it carries no contract
        and ``self`` may be empty)."""
        if debit_of:
            return {
                "move_type": move_type,
                "partner_id": debit_of.partner_id.id,
                "company_id": debit_of.company_id.id,
                "currency_id": debit_of.currency_id.id,
                "invoice_date": invoice_date,
                "journal_id": debit_of.journal_id.id,
                "invoice_payment_term_id": debit_of.invoice_payment_term_id.id,
                "invoice_origin": debit_of.name,
            }
        self.ensure_one()
        vals = {
            "move_type": move_type,
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "currency_id": self.currency_id.id,
            "invoice_date": invoice_date,
            "invoice_origin": self.name,
            "invoice_user_id": self.user_id.id,
            "ref": self.reference or False,
            "rbm_contract_id": self.id,
        }
        if self.plan_id.journal_id:
            vals["journal_id"] = self.plan_id.journal_id.id
        if move_type == "out_invoice":
            # the due day wins over the payment terms (which would recompute it)
            due_date = self._get_due_date(invoice_date)
            if due_date:
                vals["invoice_date_due"] = due_date
                vals["invoice_payment_term_id"] = False
            elif self.payment_term_id:
                vals["invoice_payment_term_id"] = self.payment_term_id.id
        return vals

    def _get_due_date(self, invoice_date):
        """Due date from the due day: the first such day on or after the invoice date."""
        self.ensure_one()
        if not self.due_day:
            return False
        due = periods.clamp_day(invoice_date.year, invoice_date.month, self.due_day)
        if due < invoice_date:
            nxt = invoice_date.replace(day=1) + timedelta(days=32)
            due = periods.clamp_day(nxt.year, nxt.month, self.due_day)
        return due

    def _format_period(self, period, lang):
        env = self.with_context(lang=lang).env
        return env._(
            "%(start)s to %(end)s",
            start=format_date(env, period["start"], lang_code=lang),
            end=format_date(env, period["end"], lang_code=lang),
        )

    def _get_quantum(self):
        self.ensure_one()
        currency = self.currency_id
        return money.fixed(currency.rounding, currency.decimal_places)

    def _prepare_invoice_vals(self, period, state):
        """Values of the invoice of one period. ``state`` carries what one run
        consumes across periods: one-time fee installments already invoiced,
        campaign periods left and pending one-off charges (all updated)."""
        self.ensure_one()
        lang = self.partner_id.lang or self.env.lang
        period_text = self._format_period(period, lang)
        quantum = self._get_quantum()
        line_vals = []
        recurring_amount = Decimal(0)
        for line in self.line_ids:
            if line.line_type == "recurring":
                vals = line._prepare_recurring_invoice_line_vals(period, period_text, quantum)
                if vals:
                    recurring_amount += periods.round_money(
                        periods.to_decimal(vals["quantity"])
                        * periods.to_decimal(vals["price_unit"]),
                        quantum,
                    )
            else:
                vals = line._prepare_fee_invoice_line_vals(state["installments"], quantum, lang)
            if vals:
                line_vals.append(fields.Command.create(vals))
        campaign_left = state["campaign_left"].get(self, 0)
        if self.campaign_id and campaign_left > 0 and recurring_amount > 0:
            number = self.campaign_id.period_count - campaign_left + 1
            line_vals.append(
                fields.Command.create(
                    self.campaign_id._prepare_discount_line_vals(
                        recurring_amount, quantum, number, lang
                    )
                )
            )
            state["campaign_left"][self] = campaign_left - 1
            if campaign_left == 1:
                state["campaign_end"][self] = period["next_start"]
        for charge in state["charges"].pop(self, []):
            line_vals.append(fields.Command.create(charge._prepare_invoice_line_vals()))
        for vals in self._prepare_extra_invoice_line_vals(period, state, quantum, lang):
            line_vals.append(fields.Command.create(vals))
        if not line_vals:
            return False
        invoice_vals = self._prepare_invoice_header("out_invoice", period["invoice_date"])
        invoice_vals.update(
            {
                "rbm_period_start": period["start"],
                "rbm_period_end": period["end"],
                "invoice_line_ids": line_vals,
            }
        )
        return invoice_vals

    def _prepare_extra_invoice_line_vals(self, period, state, quantum, lang):
        """Extension point: more lines for the invoice of ``period`` (metered
        usage, ...). ``state`` is what ``_prepare_billing_state`` read for the
        whole batch; add to it there rather than querying here."""
        self.ensure_one()
        return []

    def _after_billing(self, moves, state):
        """Extension point: called once per batch with the invoices just
        created (not yet posted), inside the batch's savepoint."""
        return True

    def _prepare_billing_state(self, due):
        """What a billing run consumes, read once for the whole batch. ``due``
        maps each contract of ``self`` to the periods billed now (computed once
        by the billing run, ``rbm.billing.run._prepare_batch``)."""
        fee_lines = self.line_ids.filtered(lambda line: line.line_type == "one_time")
        charges = self.env["rbm.contract.charge"].search(
            [("contract_id", "in", self.ids), ("invoice_line_ids", "=", False)], order="date, id"
        )
        return {
            "installments": fee_lines._get_installments_invoiced(),
            "campaign_left": {c: c.campaign_periods_left for c in self if c.campaign_id},
            "campaign_end": {},
            "charges": charges.grouped("contract_id"),
        }

    # ------------------------------------------------------------
    # EXTERNAL API (XML-RPC / JSON-RPC for integrators, and the portal)
    # ------------------------------------------------------------

    def request_change(
        self,
        kind,
        new_plan_id=False,
        line_id=False,
        product_id=False,
        quantity=False,
        timing="auto",
        preview=False,
        request_key=False,
    ):
        """Change this contract, or only preview the change (``preview=True``).

        ``kind`` is ``plan`` (``new_plan_id``), ``quantity`` (``line_id``,
        ``quantity``), ``addon_add`` (``product_id``, ``quantity``) or
        ``addon_remove`` (``line_id``); ``timing`` is ``auto`` (plan policy),
        ``now`` or ``period_end``. Returns plain values: the effective date,
        the prorated amounts and, once confirmed, the change and its documents.
        Errors come back as a ValidationError/UserError naming the field.

        Staff need write access to the contract. A portal user (the customer)
        needs the right to manage it (``_check_customer_right``) and is held to
        the plan's self-service rules. With ``request_key`` the call is
        idempotent: the same key again returns the first call's change."""
        self.ensure_one()
        self_service = self._check_request_access()
        return (self.sudo() if self_service else self)._request_change(
            kind,
            new_plan_id,
            line_id,
            product_id,
            quantity,
            timing,
            preview,
            request_key,
            self_service,
        )

    def request_cancellation(
        self, reason_id=False, timing="period_end", preview=False, note=False, request_key=False
    ):
        """Cancel this contract now or at the end of its period (or preview it).

        A portal user (the customer) needs the right to manage the contract,
        cancels at the end of the period and gives one of the reasons offered
        on the portal. With ``request_key`` the call is idempotent."""
        self.ensure_one()
        self_service = self._check_request_access()
        return (self.sudo() if self_service else self)._request_cancellation(
            reason_id, timing, preview, note, request_key, self_service
        )

    def _check_request_access(self):
        """Whether the current user asks as the customer (True: a portal user
        holding the right to manage this contract) or as staff (False: write
        access to it); AccessError when neither."""
        self.ensure_one()
        if self.env.su or self.env.user._is_internal():
            self.check_access("write")
            return False
        self.check_access("read")
        self._check_customer_right(self.env.user)
        return True

    def _has_customer_right(self, user):
        """Whether ``user`` may change and cancel this contract on the
        customer's side: the user of the commercial partner, or a contact of
        it given the right (field May Manage Subscriptions)."""
        self.ensure_one()
        partner_sudo = user.partner_id.sudo()
        commercial_sudo = self.sudo().commercial_partner_id
        if partner_sudo == commercial_sudo:
            return True
        return bool(
            partner_sudo.commercial_partner_id == commercial_sudo
            and partner_sudo.rbm_manage_subscriptions
        )

    def _check_customer_right(self, user):
        self.ensure_one()
        if not self._has_customer_right(user):
            raise AccessError(
                _(
                    "%(user)s may see contract %(contract)s but not change or cancel it: only "
                    "%(customer)s and the contacts they name may (field May Manage "
                    "Subscriptions on the contact).",
                    user=user.partner_id.sudo().display_name,
                    contract=self.sudo().display_name,
                    customer=self.sudo().commercial_partner_id.display_name,
                )
            )

    def _browse_request_record(self, model, value, field):
        """The record ``value`` names, for a service argument ``field``;
        refuses what is no record id (text, a float, a huge number)."""
        if not value:
            return self.env[model]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            raise ValidationError(
                _(
                    "Contract %(contract)s: the value given is not a record id (field %(field)s).",
                    contract=self.display_name,
                    field=field,
                )
            )
        return self.env[model].browse(value).exists()

    def _get_request_today(self, self_service):
        """The customer's day for their own requests (see ``_rbm_get_today``)."""
        if self_service:
            return self.partner_id._rbm_get_today(self.company_id)
        return None

    def _request_change(
        self,
        kind,
        new_plan_id,
        line_id,
        product_id,
        quantity,
        timing,
        preview,
        request_key,
        self_service,
    ):
        self.ensure_one()
        kwargs = {"timing": timing, "self_service": self_service}
        if new_plan_id:
            kwargs["new_plan"] = self._browse_request_record("rbm.plan", new_plan_id, _("Plan"))
        if line_id:
            line = self._browse_request_record("rbm.contract.line", line_id, _("Line"))
            kwargs["line"] = line & self.line_ids
        if product_id:
            kwargs["product"] = self._browse_request_record(
                "product.product", product_id, _("Add-on")
            )
        if kind in ("quantity", "addon_add"):
            kwargs["quantity"] = quantity if quantity is not False else None
        Change = self.env["rbm.contract.change"]
        today = self._get_request_today(self_service)
        if preview:
            prepared = Change._prepare(self, kind, today=today, **kwargs)
            return {
                "date": fields.Date.to_string(prepared["date"]),
                "direction": prepared["direction"],
                "description": prepared["description"],
                "mrr_before": prepared["mrr_before"],
                "mrr_after": prepared["mrr_after"],
                "recurring_after": prepared["recurring_after"],
                "notes": prepared.get("notes", []),
                "amounts": [
                    {"name": item["name"], "amount": float(item["amount"])}
                    for item in prepared["amounts"]
                ],
            }
        requests_sudo = self.env["rbm.contract.request"].sudo()
        if request_key:
            done = requests_sudo._find(request_key, self, "change")
            if done:
                return {**self._prepare_change_result(done.change_id), "replayed": True}
        with self.env.cr.savepoint():
            request_sudo = (
                requests_sudo._claim(request_key, self, "change") if request_key else None
            )
            self._lock_for_change()
            change = Change._request(self, kind, today=today, **kwargs)
            if request_sudo:
                request_sudo.change_id = change
            if self_service:
                self.message_post(
                    body=_(
                        "Change requested by the customer (%(user)s): %(change)s",
                        user=self.env.user.partner_id.display_name,
                        change=change.description,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        return self._prepare_change_result(change)

    def _lock_for_change(self):
        """Lock the contract row before a customer's change or cancellation:
        a concurrent request on the same contract (another tab, another
        contact) waits, then fails to serialize once this one committed, and
        its replay sees this one's outcome (the add-on already there, the
        contract already cancelled) instead of applying a second time."""
        self.ensure_one()
        self.env["rbm.billing.run"]._lock(self, wait=True)

    def _prepare_change_result(self, change):
        return {
            "change_id": change.id,
            "state": change.state,
            "date": fields.Date.to_string(change.date),
            "direction": change.direction,
            "credit_amount": change.credit_amount,
            "charge_amount": change.charge_amount,
            "move_ids": change.move_ids.ids,
            "charge_ids": change.charge_ids.ids,
        }

    def _request_cancellation(self, reason_id, timing, preview, note, request_key, self_service):
        self.ensure_one()
        reason = self._browse_request_record("rbm.cancel.reason", reason_id, _("Reason"))
        if note and not isinstance(note, str):
            raise ValidationError(
                _(
                    "Contract %(contract)s: the note must be text (field Note).",
                    contract=self.display_name,
                )
            )
        if self_service:
            if timing != "period_end":
                raise ValidationError(
                    _(
                        "Contract %(contract)s: a subscription you cancel ends at the end of "
                        "its period (field Timing).",
                        contract=self.display_name,
                    )
                )
            if not preview and not (reason and reason.portal_visible):
                raise ValidationError(
                    _(
                        "Contract %(contract)s: please tell us why you are leaving (field Reason).",
                        contract=self.display_name,
                    )
                )
        today = self._get_request_today(self_service)
        if preview:
            return self._prepare_cancellation_result(self._prepare_cancellation(timing, today))
        requests_sudo = self.env["rbm.contract.request"].sudo()
        if request_key and requests_sudo._find(request_key, self, "cancel"):
            return {
                "last_day": fields.Date.to_string(self.date_end),
                "state": self.state,
                "replayed": True,
            }
        with self.env.cr.savepoint():
            if request_key:
                requests_sudo._claim(request_key, self, "cancel")
            self._lock_for_change()
            prepared = self._cancel(reason or None, timing, today=today, note=note or None)
        return self._prepare_cancellation_result(prepared)

    def _prepare_cancellation_result(self, prepared):
        return {
            "last_day": fields.Date.to_string(prepared["last_day"]),
            "refunds": [
                {"name": item["name"], "amount": float(item["amount"])}
                for item in prepared["refunds"]
            ],
            "fee": prepared["fee"],
            "fee_text": prepared["fee_text"],
            "commitment_text": prepared["commitment_text"],
            "state": self.state,
        }

    # ------------------------------------------------------------
    # CANCELLATION
    # ------------------------------------------------------------

    def _prepare_cancellation(self, timing="now", today=None):
        """What cancelling would do: last day of service, refund of the unused
        pre-paid part (when the plan refunds) and early-termination fee."""
        self.ensure_one()
        today = today or fields.Date.context_today(self)
        if self.cancel_date and self.date_end:
            raise UserError(
                _(
                    "Contract %(contract)s is already cancelled: its last day of service is "
                    "%(date)s.",
                    contract=self.display_name,
                    date=format_date(self.env, self.date_end),
                )
            )
        if self.state not in ("active", "suspended", "trial"):
            raise UserError(
                _(
                    "Contract %(contract)s cannot be cancelled in its current state.",
                    contract=self.display_name,
                )
            )
        first_day = max(today, self.date_start)
        if timing == "now" or self.state == "trial":
            last_day = first_day
        else:
            last_day = self._get_period_containing(first_day)["full_end"]
        if self.date_end and self.date_end < last_day:
            last_day = self.date_end
        lang = self.partner_id.lang or self.env.lang
        env = self.with_context(lang=lang).env
        quantum = self._get_quantum()
        refunds = []
        plan = self.plan_id
        refund_from = last_day + timedelta(days=1)
        if (
            plan.cancel_refund
            and plan.billing_mode == "advance"
            and self.state != "trial"
            and self._is_invoiced_on(refund_from)
        ):
            period = self._get_period_containing(refund_from)
            end = min(period["full_end"], self.date_end or period["full_end"])
            text = self._format_period({"start": refund_from, "end": end}, lang)
            for line in self._get_current_recurring_lines():
                part = line._get_prorated_amount(
                    period["full_start"], period["full_end"], refund_from, end, quantum
                )
                if part:
                    refunds.append(
                        {
                            "product": line.product_id,
                            "name": env._(
                                "Unused %(name)s — %(period)s", name=line.name, period=text
                            ),
                            "amount": part,
                        }
                    )
        fee = self._get_early_termination_fee(last_day)
        commitment_end = self._get_commitment_end_on(last_day)
        if fee:
            commitment_text = env._(
                "Early-termination fee — commitment until %(date)s",
                date=format_date(env, commitment_end, lang_code=lang),
            )
        elif commitment_end and last_day >= commitment_end:
            commitment_text = env._(
                "Commitment ended on %(date)s: no early-termination fee",
                date=format_date(env, commitment_end, lang_code=lang),
            )
        else:
            commitment_text = ""
        return {
            "timing": timing,
            "last_day": last_day,
            "refunds": refunds,
            "fee": fee,
            "fee_text": commitment_text if fee else "",
            "commitment_text": commitment_text,
        }

    def _get_commitment_end_on(self, day):
        """Last day of the commitment in force on ``day``: the contract's, or,
        when it renews and ``day`` is past it, that of the renewed commitment
        (terms of the contract's renewal term, each starting the day after the
        previous one ends). False without a commitment."""
        self.ensure_one()
        end = self.commitment_end
        if not end or self.commitment_end_action != "renew":
            return end
        months = self.renewal_months or self.plan_id.renewal_months or 12
        while end < day:
            end = end + timedelta(days=1) + relativedelta(months=months) - timedelta(days=1)
        return end

    def _get_early_termination_fee(self, last_day):
        """Early-termination fee of a cancellation whose last day of service
        is ``last_day``: due when that day is before the last day of the
        commitment in force (so none from the day after the commitment ends,
        unless it renewed), fixed or a percentage of the MRR of each remaining
        month, a month begun counting whole."""
        self.ensure_one()
        plan = self.plan_id
        commitment_end = self._get_commitment_end_on(last_day)
        if not commitment_end or last_day >= commitment_end:
            return 0.0
        if plan.early_termination_fee_type == "fixed":
            return self.currency_id.round(plan.early_termination_fee)
        if plan.early_termination_fee_type == "percent":
            delta = relativedelta(commitment_end + timedelta(days=1), last_day + timedelta(days=1))
            months = delta.years * 12 + delta.months + (1 if delta.days else 0)
            return self.currency_id.round(months * self.mrr * plan.early_termination_fee / 100.0)
        return 0.0

    def _get_commitment_info(self, today):
        """The commitment as the contract form and the portal state it:
        ``end`` (last day of the commitment in force), ``fee`` (what a
        cancellation today would cost) and ``text``, in the customer's
        language."""
        self.ensure_one()
        lang = self.env.context.get("lang") or self.partner_id.lang or self.env.lang
        env = self.with_context(lang=lang).env
        end = self._get_commitment_end_on(today)
        info = {"end": end, "fee": 0.0, "text": ""}
        if not end:
            info["text"] = env._("No commitment")
            return info
        date = format_date(env, end, lang_code=lang)
        if today > end:
            info["text"] = env._(
                "Commitment ended on %(date)s: cancellation without fee", date=date
            )
            return info
        fee = self._get_early_termination_fee(today)
        info["fee"] = fee
        if fee:
            amount = formatLang(env, fee, currency_obj=self.currency_id)
            info["text"] = env._(
                "Commitment until %(date)s: early-termination fee today %(amount)s",
                date=date,
                amount=amount,
            )
        else:
            info["text"] = env._("Commitment until %(date)s: no early-termination fee", date=date)
        return info

    def _cancel(self, reason=None, timing="now", today=None, note=None):
        """Cancel now or at the end of the period, with a reason; refund and fee
        per plan. Used by the wizard, the portal and the API."""
        self.ensure_one()
        today = today or fields.Date.context_today(self)
        prepared = self._prepare_cancellation(timing, today)
        last_day = prepared["last_day"]
        vals = {
            "date_end": last_day,
            "cancel_reason_id": reason.id if reason else False,
            "cancel_date": today,
        }
        # a pending scheduled change past the end would never apply
        self.change_ids.filtered(
            lambda c: c.state == "scheduled" and c.date > last_day
        ).action_cancel()
        if prepared["refunds"]:
            self._create_document("out_refund", prepared["refunds"], today)
        if prepared["fee"]:
            product = self.env.ref("rbm_recurring.product_rbm_early_termination")
            self._create_document(
                "out_invoice",
                [{"product": product, "name": prepared["fee_text"], "amount": prepared["fee"]}],
                today,
                extra_vals={"rbm_termination_fee": True},
            )
        if last_day < today or (timing == "now" or self.state == "trial"):
            with self._track_mrr("cancellation", date=last_day + timedelta(days=1)):
                self.write({**vals, "state": "cancelled"})
            self._emit_provisioning("cancelled")
        else:
            self.write(vals)
        body = _(
            "Cancellation requested: last day of service %(date)s.",
            date=format_date(self.env, last_day),
        )
        if reason:
            body += " " + _("Reason: %(reason)s.", reason=reason.name)
        if note:
            body += " " + note
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        return prepared

    # ------------------------------------------------------------
    # LIFECYCLE (trials, renewals, endings)
    # ------------------------------------------------------------

    def _has_payment_method(self):
        self.ensure_one()
        if self.payment_mode == "card":
            return bool(self.payment_token_id)
        return bool(self.payment_mode)

    # Lifecycle steps: one contract each, called by the lifecycle cron
    # (rbm.billing.run._cron_lifecycle) in its own savepoint; each returns
    # whether it did something.

    def _lifecycle_trial_reminder(self, today):
        self.ensure_one()
        days = self.plan_id.trial_reminder_days
        if not self.trial_end - timedelta(days=days) <= today <= self.trial_end:
            return False
        self._send_template("rbm_recurring.mail_template_trial_reminder")
        self.trial_reminder_sent = True
        return True

    def _lifecycle_trial_end(self, today):
        self.ensure_one()
        if self.plan_id.trial_requires_payment and not self._has_payment_method():
            self.write({"state": "expired", "date_end": self.trial_end})
            self.message_post(
                body=_("The trial ended with no payment method: the contract expired."),
                subtype_xmlid="mail.mt_note",
            )
            self._emit_provisioning("expired")
        else:
            with self._track_mrr("start", date=self.trial_end + timedelta(days=1)):
                self.state = "active"
            self._emit_provisioning("activated")
        return True

    def _lifecycle_renewal_notice(self, today):
        self.ensure_one()
        if (
            self.commitment_end_action != "renew"
            or self.renewal_notice_sent == self.commitment_end
            or self.commitment_end - timedelta(days=self.plan_id.renewal_notice_days) > today
        ):
            return False
        self._send_template("rbm_recurring.mail_template_renewal_notice")
        self.renewal_notice_sent = self.commitment_end
        return True

    def _lifecycle_renew(self, today):
        self.ensure_one()
        if self.commitment_end_action != "renew":
            return False
        new_end = self._get_commitment_end_on(today)
        self.commitment_end = new_end
        self.message_post(
            body=_("Renewed until %(date)s.", date=format_date(self.env, new_end)),
            subtype_xmlid="mail.mt_note",
        )
        self._emit_provisioning("renewed")
        return True

    def _lifecycle_end(self, today):
        """A contract past its end date: cancelled, expired or closed."""
        self.ensure_one()
        if self.cancel_reason_id or self.cancel_date:
            state, event = "cancelled", "cancelled"
        elif self.commitment_end == self.date_end:
            state, event = "expired", "expired"
        else:
            state, event = "closed", "closed"
        with self._track_mrr(
            "cancellation" if state == "cancelled" else "expiry",
            date=self.date_end + timedelta(days=1),
        ):
            self.state = state
        self._emit_provisioning(event)
        return True

    def _send_template(self, xmlid):
        template = self.env.ref(xmlid, raise_if_not_found=False)
        if template:
            for contract in self:
                contract.message_post_with_source(
                    template, subtype_xmlid="mail.mt_comment", email_layout_xmlid=False
                )

    # ------------------------------------------------------------
    # MRR MOVEMENTS
    # ------------------------------------------------------------

    def _get_effective_mrr(self):
        """MRR the contract brings in now: its MRR while it is billed, else 0."""
        self.ensure_one()
        if self.state in self._get_mrr_states() or (
            self.state == "suspended" and self.plan_id.suspension_billing == "keep"
        ):
            return self.mrr
        return 0.0

    def _get_effective_mrr_with_campaign(self):
        """Effective MRR as it was while the campaign discount still applied."""
        self.ensure_one()
        mrr = self._get_effective_mrr()
        if not mrr or not self.campaign_id:
            return mrr
        return self._get_mrr_of(self.recurring_total, with_campaign=True)

    @contextmanager
    def _track_mrr(self, reason, date=None):
        """Record one ``rbm.mrr.event`` per contract whose effective MRR changes
        inside the ``with`` block::

            with contracts._track_mrr("upgrade"):
                ...change lines, plan or state...
        """
        before = {contract: contract._get_effective_mrr() for contract in self}
        yield
        self._record_mrr_events(before, reason, date)

    def _record_mrr_events(self, before, reason, date=None):
        date = date or fields.Date.context_today(self)
        vals_list = []
        had_mrr = set()
        if self:
            data = self.env["rbm.mrr.event"]._read_group(
                [("contract_id", "in", self.ids), ("mrr_after", ">", 0)], ["contract_id"]
            )
            had_mrr = {contract for (contract,) in data}
        for contract, old in before.items():
            new = contract._get_effective_mrr()
            currency = contract.currency_id
            if currency.compare_amounts(old, new) == 0:
                continue
            if currency.is_zero(old):
                event_type = "reactivation" if contract in had_mrr else "new"
            elif currency.is_zero(new):
                event_type = "churn"
            else:
                event_type = "expansion" if new > old else "contraction"
            vals_list.append(
                {
                    "contract_id": contract.id,
                    "plan_id": contract.plan_id.id,
                    "company_id": contract.company_id.id,
                    "currency_id": currency.id,
                    "date": date,
                    "event_type": event_type,
                    "contract_event_type": event_type,
                    "reason": reason,
                    "mrr_before": old,
                    "delta": currency.round(new - old),
                    "mrr_after": new,
                }
            )
        events_sudo = self.env["rbm.mrr.event"].sudo().create(vals_list)
        if events_sudo:
            # the type is the customer's movement, all their contracts together
            events_sudo._reclassify_customer_events(events_sudo.partner_id.ids)
        return events_sudo

    def _demo_bill_until_today(self):
        """Demo data: bill what the demo contracts owe today, and let most
        customers have paid what fell due more than ten days ago."""
        today = fields.Date.context_today(self)
        Run = self.env["rbm.billing.run"]
        moves = Run._bill(Run._lock(self, wait=True), today)["moves"]
        late_payers = self[:3].partner_id
        to_pay = moves.filtered(
            lambda m: (
                m.state == "posted"
                and m.invoice_date_due
                and m.invoice_date_due < today - timedelta(days=10)
                and m.partner_id not in late_payers
            )
        )
        if to_pay:
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=to_pay.ids
            ).create({"group_payment": False})._create_payments()
        return moves.ids

    def _get_campaign_price(self):
        """The price per period with the running campaign's discount (what
        the customer pays while it lasts), or None without a running campaign."""
        self.ensure_one()
        # the portal shows it to the customer, who may not read campaigns
        contract_sudo = self.sudo()
        if not contract_sudo.campaign_id or contract_sudo.campaign_periods_left <= 0:
            return None
        total = contract_sudo.recurring_total
        currency = contract_sudo.currency_id
        return currency.round(total - contract_sudo.campaign_id._get_discount(total, currency))

    def _get_campaign_label(self):
        self.ensure_one()
        return _(
            "With the campaign %(campaign)s (%(left)s more periods)",
            campaign=self.sudo().campaign_id.name,
            left=self.campaign_periods_left,
        )

    def _get_next_invoice_preview(self):
        """Untaxed amount of the next invoice (for the portal and the form)."""
        self.ensure_one()
        period = self._get_next_period()
        if not period:
            return 0.0
        vals = self._prepare_invoice_vals(period, self._prepare_billing_state({self: [period]}))
        if not vals:
            return 0.0
        return self.currency_id.round(
            sum(cmd[2]["quantity"] * cmd[2]["price_unit"] for cmd in vals["invoice_line_ids"])
        )
