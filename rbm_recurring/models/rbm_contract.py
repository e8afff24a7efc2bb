import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_repr
from odoo.tools.misc import format_date

from ..engine import periods

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
            ("active", "Active"),
            ("suspended", "Suspended"),
            ("closed", "Closed"),
        ],
        required=True,
        default="draft",
        tracking=True,
        index=True,
        copy=False,
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
    billing_error = fields.Text(copy=False, readonly=True)
    billing_error_date = fields.Date(copy=False, readonly=True)
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

    @api.depends(
        "line_ids.subtotal", "line_ids.line_type", "plan_id.interval", "plan_id.interval_unit"
    )
    def _compute_amounts(self):
        for contract in self:
            total = sum(
                contract.line_ids.filtered(lambda line: line.line_type == "recurring").mapped(
                    "subtotal"
                )
            )
            contract.recurring_total = total
            if contract.plan_id.interval_unit:
                factor = periods.monthly_factor(
                    contract.plan_id.interval_unit, contract.plan_id.interval
                )
                contract.mrr = contract.currency_id.round(float(periods.to_decimal(total) * factor))
            else:
                contract.mrr = 0.0

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

    def unlink(self):
        if any(contract.state != "draft" for contract in self):
            raise UserError(_("Only draft contracts can be deleted; close the others instead."))
        return super().unlink()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_activate(self):
        for contract in self:
            if contract.state != "draft":
                raise UserError(
                    _("Contract %(contract)s is not a draft.", contract=contract.display_name)
                )
            if not contract.line_ids.filtered(lambda line: line.line_type == "recurring"):
                raise UserError(
                    _(
                        "Contract %(contract)s has no recurring line to bill (tab Lines).",
                        contract=contract.display_name,
                    )
                )
            contract.write(contract._prepare_activation_vals())
        return True

    def _prepare_activation_vals(self):
        self.ensure_one()
        plan = self.plan_id
        billing_day = 0
        if plan.alignment == "fixed_day":
            billing_day = plan.billing_day
            anchor = periods.aligned_anchor(self.date_start, billing_day)
        else:
            anchor = self.date_start
        return {
            "state": "active",
            "period_anchor": anchor,
            "billing_day": billing_day,
            "next_period_start": self.date_start,
        }

    def action_suspend(self):
        for contract in self:
            if contract.state != "active":
                raise UserError(
                    _(
                        "Only active contracts can be suspended (%(contract)s).",
                        contract=contract.display_name,
                    )
                )
        self.write({"state": "suspended"})
        return True

    def action_reactivate(self):
        for contract in self:
            if contract.state != "suspended":
                raise UserError(
                    _(
                        "Only suspended contracts can be reactivated (%(contract)s).",
                        contract=contract.display_name,
                    )
                )
        self.write({"state": "active"})
        return True

    def action_close(self):
        for contract in self:
            if contract.state not in ("active", "suspended"):
                raise UserError(
                    _(
                        "Only running contracts can be closed (%(contract)s).",
                        contract=contract.display_name,
                    )
                )
        today = fields.Date.context_today(self)
        for contract in self:
            vals = {"state": "closed"}
            if not contract.date_end or contract.date_end > today:
                vals["date_end"] = max(today, contract.date_start)
            contract.write(vals)
        return True

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("account.action_move_out_invoice_type")
        action["domain"] = [("rbm_contract_id", "=", self.id)]
        action["context"] = {"default_move_type": "out_invoice", "create": False}
        return action

    def action_bill_now(self):
        """Invoice every period of these contracts that is due today (button)."""
        today = fields.Date.context_today(self)
        contracts = self.filtered(lambda c: c.state == "active")
        if not contracts:
            raise UserError(_("Only active contracts can be invoiced."))
        result = contracts._lock_for_billing(wait=True)._bill_due_periods(today)
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
            return self.action_view_invoices()
        return True

    # ------------------------------------------------------------
    # BILLING ENGINE
    # ------------------------------------------------------------

    def _get_period_after(self, period_start):
        """Description of the period that starts at ``period_start``, clipped to
        the contract's end; ``False`` when it lies after the end."""
        self.ensure_one()
        plan = self.plan_id
        anchor = self.period_anchor
        if not (period_start and anchor and plan):
            return False
        if self.date_end and period_start > self.date_end:
            return False
        unit, interval = plan.interval_unit, plan.interval
        day = self.billing_day or None
        index = periods.period_index(anchor, unit, interval, period_start, day)
        full_start, full_end = periods.period_bounds(anchor, unit, interval, index, day)
        end = full_end
        if self.date_end and self.date_end < end:
            end = self.date_end
        if plan.billing_mode == "advance":
            invoice_date = period_start
        else:
            invoice_date = end + timedelta(days=1)
        return {
            "start": period_start,
            "end": end,
            "full_start": full_start,
            "full_end": full_end,
            "invoice_date": invoice_date,
            "next_start": full_end + timedelta(days=1),
        }

    def _get_next_period(self):
        self.ensure_one()
        if self.state not in self._get_billable_states():
            return False
        return self._get_period_after(self.next_period_start)

    @api.model
    def _get_billable_states(self):
        return ("active",)

    def _get_due_periods(self, today):
        """Every period of the contract whose invoice date has come."""
        self.ensure_one()
        result = []
        period = self._get_next_period()
        while period and period["invoice_date"] <= today:
            result.append(period)
            if len(result) >= MAX_PERIODS_PER_RUN:
                break
            period = self._get_period_after(period["next_start"])
        return result

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

    def _prepare_invoice_vals(self, period, installments_done):
        """Values of the invoice of one period. ``installments_done`` maps a
        one-time line to the number of installments already invoiced (updated)."""
        self.ensure_one()
        plan = self.plan_id
        lang = self.partner_id.lang or self.env.lang
        period_text = self._format_period(period, lang)
        quantum = Decimal(float_repr(self.currency_id.rounding, self.currency_id.decimal_places))
        line_vals = []
        for line in self.line_ids:
            if line.line_type == "recurring":
                vals = line._prepare_recurring_invoice_line_vals(period, period_text, quantum)
            else:
                vals = line._prepare_fee_invoice_line_vals(installments_done, quantum, lang)
            if vals:
                line_vals.append(fields.Command.create(vals))
        if not line_vals:
            return False
        invoice_vals = {
            "move_type": "out_invoice",
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "currency_id": self.currency_id.id,
            "invoice_date": period["invoice_date"],
            "invoice_origin": self.name,
            "invoice_user_id": self.user_id.id,
            "ref": self.reference or False,
            "rbm_contract_id": self.id,
            "rbm_period_start": period["start"],
            "rbm_period_end": period["end"],
            "invoice_line_ids": line_vals,
        }
        if plan.journal_id:
            invoice_vals["journal_id"] = plan.journal_id.id
        due_date = self._get_due_date(period["invoice_date"])
        if due_date:
            invoice_vals["invoice_date_due"] = due_date
            invoice_vals["invoice_payment_term_id"] = False
        elif self.payment_term_id:
            invoice_vals["invoice_payment_term_id"] = self.payment_term_id.id
        return invoice_vals

    def _prepare_billing_batch(self, today):
        """(contract, period, invoice vals) for every due period of ``self``."""
        fee_lines = self.line_ids.filtered(lambda line: line.line_type == "one_time")
        installments_done = fee_lines._get_installments_invoiced()
        todo = []
        for contract in self:
            for period in contract._get_due_periods(today):
                vals = contract._prepare_invoice_vals(period, installments_done)
                todo.append((contract, period, vals))
        return todo

    def _apply_billing(self, todo):
        """Create, post and advance for a batch prepared by ``_prepare_billing_batch``.
        Raises on any error so that the caller can roll the whole batch back."""
        moves = self.env["account.move"]
        vals_list = [vals for _contract, _period, vals in todo if vals]
        if vals_list:
            moves = (
                self.env["account.move"]
                .with_context(default_move_type="out_invoice", skip_invoice_sync=False)
                .create(vals_list)
            )
        # Advance each contract to the day after its last billed period; write
        # contracts that reach the same date together.
        next_start = {}
        for contract, period, _vals in todo:
            next_start[contract] = period["next_start"]
        by_date = defaultdict(lambda: self.browse())
        for contract, start in next_start.items():
            by_date[start] |= contract
        for start, contracts in by_date.items():
            contracts.write(
                {"next_period_start": start, "billing_error": False, "billing_error_date": False}
            )
        self._post_invoices(moves)
        return moves

    def _post_invoices(self, moves):
        to_post = moves.filtered(lambda m: m.rbm_contract_id.plan_id.posting_policy != "draft")
        if not to_post:
            return
        to_post._post(soft=False)
        to_send = to_post.filtered(
            lambda m: m.rbm_contract_id.plan_id.posting_policy == "post_send"
        )
        if to_send:
            to_send.sending_data = {
                "author_user_id": self.env.user.id,
                "author_partner_id": self.env.user.partner_id.id,
                "sending_methods": ["email"],
            }
            self.env.ref("account.ir_cron_account_move_send")._trigger()

    def _bill_due_periods(self, today):
        """Invoice all due periods of ``self`` (rows already locked by the caller).

        The whole batch is tried at once; when anything fails, every contract is
        retried alone in its own savepoint so that one bad contract never blocks
        the others. Returns ``{"moves": account.move, "failed": {contract: message}}``.
        """
        result = {"moves": self.env["account.move"], "failed": {}}
        if not self:
            return result
        try:
            with self.env.cr.savepoint():
                todo = self._prepare_billing_batch(today)
                result["moves"] = self._apply_billing(todo)
            return result
        except Exception:  # noqa: BLE001 - isolate below, one contract at a time
            self.env.invalidate_all()
            _logger.info("Billing batch of %s contracts failed, isolating", len(self))
        for contract in self:
            try:
                with self.env.cr.savepoint():
                    todo = contract._prepare_billing_batch(today)
                    result["moves"] |= contract._apply_billing(todo)
            except Exception as error:  # noqa: BLE001 - reported on the contract
                self.env.invalidate_all()
                message = contract._billing_error_message(error)
                result["failed"][contract] = message
                _logger.warning("Billing of contract %s failed: %s", contract.name, message)
        if result["failed"]:
            self._record_billing_failures(result["failed"], today)
        return result

    @api.model
    def _billing_error_message(self, error):
        if isinstance(error, (UserError, ValidationError)):
            return str(error.args[0]) if error.args else str(error)
        return f"{type(error).__name__}: {error}"

    def _record_billing_failures(self, failed, today):
        for contract, message in failed.items():
            contract.write({"billing_error": message, "billing_error_date": today})
            contract.message_post(
                body=Markup("<p>%s</p><p>%s</p>")
                % (_("The billing run could not invoice this contract:"), message),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def _lock_for_billing(self, wait=False):
        """Lock the contract rows for billing; rows locked by another worker are
        skipped (cron) or waited for (button)."""
        if not self:
            return self
        self.flush_recordset()
        mode = "" if wait else " SKIP LOCKED"
        self.env.cr.execute(
            f"SELECT id FROM rbm_contract WHERE id IN %s FOR NO KEY UPDATE{mode}",  # noqa: S608
            [tuple(self.ids)],
        )
        locked = self.browse([row[0] for row in self.env.cr.fetchall()])
        # another worker may have billed them since this transaction read them
        locked.invalidate_recordset(["next_period_start", "next_invoice_date", "state"])
        return locked

    @api.model
    def _get_billing_domain(self, today):
        return [
            ("state", "in", self._get_billable_states()),
            ("next_invoice_date", "<=", today),
            "|",
            ("billing_error_date", "=", False),
            ("billing_error_date", "<", today),
        ]

    @api.model
    def _cron_billing_run(self, batch_size=100):
        """Billing run: invoices every due period of every contract, a batch of
        contracts per call, re-triggering itself while work remains."""
        today = fields.Date.context_today(self)
        domain = self._get_billing_domain(today)
        contracts = self.search(domain, order="next_invoice_date, id", limit=batch_size)
        locked = contracts._lock_for_billing()
        result = locked._bill_due_periods(today)
        remaining = self.search_count(domain)
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=remaining)
        _logger.info(
            "Billing run: %s contracts, %s invoices, %s failed, %s remaining",
            len(locked),
            len(result["moves"]),
            len(result["failed"]),
            remaining,
        )
        if remaining:
            self.env.ref("rbm_recurring.ir_cron_rbm_billing_run")._trigger()
        return result

    def _demo_bill_until_today(self):
        """Demo data: bill what the demo contracts owe today, and let most
        customers have paid what fell due more than ten days ago."""
        today = fields.Date.context_today(self)
        moves = self._lock_for_billing(wait=True)._bill_due_periods(today)["moves"]
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

    def _get_next_invoice_preview(self):
        """Untaxed amount of the next invoice (for the portal and the form)."""
        self.ensure_one()
        period = self._get_next_period()
        if not period:
            return 0.0
        fee_lines = self.line_ids.filtered(lambda line: line.line_type == "one_time")
        vals = self._prepare_invoice_vals(period, fee_lines._get_installments_invoiced())
        if not vals:
            return 0.0
        return self.currency_id.round(
            sum(cmd[2]["quantity"] * cmd[2]["price_unit"] for cmd in vals["invoice_line_ids"])
        )
