"""Price adjustment by index (reajuste): plan and contract terms, the yearly
adjustment on each contract anniversary and its log."""

import logging
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_date, formatLang

from ..engine import money
from ..engine.price_adjustment import (
    adjusted_price,
    adjustment_window,
    anniversary_years,
    applied_variation,
    compound_variation,
    month_range,
)
from ..engine.privacy import mask_personal_data
from .rbm_billing_run import is_transient_error

_logger = logging.getLogger(__name__)


class RbmPlan(models.Model):
    _inherit = "rbm.plan"

    price_index_id = fields.Many2one(
        "rbm.price.index",
        string="Price Index",
        tracking=True,
        help="Index by which the prices of the plan's contracts are adjusted on each "
        "contract anniversary (reajuste). Empty: no adjustment.",
    )
    adjustment_negative_policy = fields.Selection(
        [("floor", "Keep prices (floor at zero)"), ("apply", "Lower prices")],
        string="Negative Variation",
        required=True,
        default="floor",
        help="What a negative accumulated variation of the index does to the prices.",
    )
    adjustment_cap = fields.Float(
        string="Adjustment Cap (%)",
        digits=(5, 2),
        help="Highest yearly adjustment, in percent; 0 for no cap.",
    )
    adjustment_notice_days = fields.Integer(
        string="Adjustment Notice (days)",
        default=30,
        help="Days before the anniversary on which the customer is told about the adjustment.",
    )

    @api.constrains("adjustment_cap", "adjustment_notice_days")
    def _check_adjustment_terms(self):
        for plan in self:
            if plan.adjustment_cap < 0:
                raise ValidationError(
                    _(
                        "Plan %(plan)s: the adjustment cap must not be negative "
                        "(field Adjustment Cap).",
                        plan=plan.display_name,
                    )
                )
            if plan.adjustment_notice_days < 0:
                raise ValidationError(
                    _(
                        "Plan %(plan)s: the adjustment notice must not be negative "
                        "(field Adjustment Notice).",
                        plan=plan.display_name,
                    )
                )


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    price_index_id = fields.Many2one(
        "rbm.price.index",
        string="Price Index",
        compute="_compute_price_index_id",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
        help="Index by which the prices are adjusted on each anniversary of the start date.",
    )
    last_adjustment_date = fields.Date(
        copy=False,
        readonly=True,
        tracking=True,
        help="Anniversary of the last price adjustment (applied or skipped).",
    )
    next_adjustment_date = fields.Date(
        compute="_compute_next_adjustment_date",
        store=True,
        copy=False,
        help="Next anniversary on which the prices are adjusted by the index.",
    )
    adjustment_action_date = fields.Date(
        compute="_compute_adjustment_action_date",
        store=True,
        index=True,
        copy=False,
        help="Technical: day from which the adjustment cron has something to do "
        "for this contract (notice, adjustment or retry).",
    )
    adjustment_ids = fields.One2many(
        "rbm.price.adjustment", "contract_id", string="Price Adjustments", copy=False
    )

    # ------------------------------------------------------------
    # COMPUTE METHODS
    # ------------------------------------------------------------

    @api.depends("plan_id", "plan_id.price_index_id")
    def _compute_price_index_id(self):
        for contract in self:
            contract.price_index_id = contract.plan_id.price_index_id or contract.price_index_id

    @api.depends("date_start", "date_end", "last_adjustment_date", "price_index_id")
    def _compute_next_adjustment_date(self):
        for contract in self:
            start = contract.date_start
            if not (start and contract.price_index_id):
                contract.next_adjustment_date = False
                continue
            after = max(contract.last_adjustment_date or start, start)
            following = start + relativedelta(years=anniversary_years(start, after) + 1)
            if contract.date_end and following > contract.date_end:
                following = False
            contract.next_adjustment_date = following

    @api.depends(
        "next_adjustment_date",
        "state",
        "plan_id.adjustment_notice_days",
        "adjustment_ids.state",
        "adjustment_ids.anniversary",
        "adjustment_ids.error_date",
    )
    def _compute_adjustment_action_date(self):
        adjustable = self._get_adjustable_states()
        for contract in self:
            following = contract.next_adjustment_date
            if not following or contract.state not in adjustable:
                contract.adjustment_action_date = False
                continue
            open_rows = contract.adjustment_ids.filtered(
                lambda a, day=following: a.state in ("pending", "notified") and a.anniversary >= day
            )
            failed = open_rows.filtered("error_date")
            if failed:
                action_date = max(failed.mapped("error_date")) + timedelta(days=1)
            elif open_rows:
                action_date = min(open_rows.mapped("anniversary"))
            else:
                notice = max(contract.plan_id.adjustment_notice_days, 0)
                action_date = following - timedelta(days=notice)
            contract.adjustment_action_date = action_date

    # ------------------------------------------------------------
    # PRICE ADJUSTMENT
    # ------------------------------------------------------------

    @api.model
    def _get_adjustable_states(self):
        return ("active", "suspended")

    def _get_due_adjustment_anniversary(self, day):
        """Latest anniversary on or before ``day`` (and the end date) whose
        adjustment is not done yet, or ``False``."""
        self.ensure_one()
        start = self.date_start
        if not start or not day:
            return False
        if self.date_end:
            day = min(day, self.date_end)
        years = anniversary_years(start, day)
        if years < 1:
            return False
        anniversary = start + relativedelta(years=years)
        if self.last_adjustment_date and anniversary <= self.last_adjustment_date:
            return False
        return anniversary

    def _get_price_adjustment_lines(self, anniversary):
        """Contract lines whose price the adjustment changes: the recurring ones
        not ended before the anniversary (lines starting later are adjusted too)."""
        self.ensure_one()
        has_end = "date_end" in self.env["rbm.contract.line"]._fields
        return self.line_ids.filtered(
            lambda line: (
                line.line_type == "recurring"
                and not (has_end and line.date_end and line.date_end < anniversary)
            )
        )

    def _get_pending_price_adjustment(self):
        """The adjustment announced or waiting to be applied (used by the notice)."""
        self.ensure_one()
        return self.adjustment_ids.filtered(lambda a: a.state in ("pending", "notified")).sorted(
            "anniversary"
        )[-1:]

    def _prepare_price_adjustment(self, anniversary):
        """Everything the adjustment of ``anniversary`` would do, without writing.
        Raises ``UserError`` when it cannot be computed (no index, missing months)."""
        self.ensure_one()
        index = self.price_index_id
        if not index:
            raise UserError(
                _(
                    "Contract %(contract)s has no price index (field Price Index).",
                    contract=self.display_name,
                )
            )
        first, last = adjustment_window(anniversary)
        months = month_range(first, last)
        values = index._get_values(months)
        missing = [month for month in months if month not in values]
        if missing:
            raise UserError(
                _(
                    "Contract %(contract)s: the price adjustment of %(date)s needs index "
                    "%(index)s from %(first)s to %(last)s, but these months have no value: "
                    "%(missing)s. Import them from the Banco Central or type them in "
                    "(Configuration > Price Indices).",
                    contract=self.display_name,
                    date=format_date(self.env, anniversary),
                    index=index.display_name,
                    first=_format_month(self.env, first),
                    last=_format_month(self.env, last),
                    missing=", ".join(_format_month(self.env, month) for month in missing),
                )
            )
        plan = self.plan_id
        variation = compound_variation(values[month] for month in months)
        applied = applied_variation(variation, plan.adjustment_negative_policy, plan.adjustment_cap)
        digits = self.env["decimal.precision"].precision_get("Product Price")
        lines = []
        for line in self._get_price_adjustment_lines(anniversary):
            old = money.fixed(line.price_unit, digits)
            lines.append((line, old, adjusted_price(old, applied, digits)))
        skip_reason = False
        if not lines:
            skip_reason = _("No recurring line to adjust.")
        elif not applied and variation < 0:
            skip_reason = _(
                "The accumulated variation is negative and the plan keeps prices (floor at zero)."
            )
        elif not applied:
            skip_reason = _("The accumulated variation is zero.")
        return {
            "anniversary": anniversary,
            "index": index,
            "period_start": first,
            "period_end": last,
            "variation": variation,
            "applied": applied,
            "lines": lines,
            "skip_reason": skip_reason,
        }

    def _prepare_price_adjustment_vals(self, data):
        """Log values (factors and line details) from ``_prepare_price_adjustment``."""
        return {
            "index_id": data["index"].id,
            "period_start": data["period_start"],
            "period_end": data["period_end"],
            "factor": float(data["variation"]),
            "applied_factor": float(data["applied"]),
            "line_ids": [fields.Command.clear()]
            + [
                fields.Command.create(
                    {
                        "contract_line_id": line.id,
                        "name": line.name,
                        "quantity": line.quantity,
                        "old_price": float(old),
                        "new_price": float(new),
                    }
                )
                for line, old, new in data["lines"]
            ],
        }

    def _get_or_create_price_adjustment(self, anniversary):
        self.ensure_one()
        adjustment = self.adjustment_ids.filtered(lambda a: a.anniversary == anniversary)
        if adjustment:
            return adjustment
        first, last = adjustment_window(anniversary)
        return (
            self.env["rbm.price.adjustment"]
            .sudo()
            .create(
                {
                    "contract_id": self.id,
                    "anniversary": anniversary,
                    "index_id": self.price_index_id.id,
                    "period_start": first,
                    "period_end": last,
                    "state": "pending",
                }
            )
        )

    def _lock_for_price_adjustment(self):
        """Wait for other workers adjusting or billing these contracts, then
        re-read what they may have changed."""
        if not self:
            return
        self.flush_recordset()
        self.env.cr.execute(
            "SELECT id FROM rbm_contract WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
        )
        self.invalidate_recordset(
            ["last_adjustment_date", "next_adjustment_date", "adjustment_ids"]
        )
        self.env["rbm.price.adjustment"].invalidate_model()

    def _apply_price_adjustment(self, anniversary):
        """Adjust the prices for ``anniversary`` (once: a second call changes
        nothing). Raises ``UserError`` when the adjustment cannot be computed;
        nothing is changed then. Returns the ``rbm.price.adjustment`` log."""
        self.ensure_one()
        self._lock_for_price_adjustment()
        if self.last_adjustment_date and anniversary <= self.last_adjustment_date:
            return self.adjustment_ids.filtered(lambda a: a.anniversary == anniversary)
        data = self._prepare_price_adjustment(anniversary)
        adjustment = self._get_or_create_price_adjustment(anniversary)
        if adjustment.state in ("applied", "skipped"):
            return adjustment
        if not data["skip_reason"]:
            with self._track_mrr("adjustment", date=anniversary):
                for line, old, new in data["lines"]:
                    if new != old:
                        line.price_unit = float(new)
        vals = self._prepare_price_adjustment_vals(data)
        vals.update(
            state="skipped" if data["skip_reason"] else "applied",
            skip_reason=data["skip_reason"],
            date_done=fields.Date.context_today(self),
            error_message=False,
            error_date=False,
        )
        adjustment.write(vals)
        superseded = (self.adjustment_ids - adjustment).filtered(
            lambda a: a.state in ("pending", "notified") and a.anniversary < anniversary
        )
        superseded.sudo().write(
            {
                "state": "skipped",
                "skip_reason": _(
                    "Superseded by the adjustment of %(date)s.",
                    date=format_date(self.env, anniversary),
                ),
            }
        )
        self.last_adjustment_date = anniversary
        self._post_price_adjustment_message(adjustment)
        return adjustment

    def _post_price_adjustment_message(self, adjustment):
        self.ensure_one()
        env = self.env
        if adjustment.state == "skipped":
            intro = _(
                "Price adjustment of %(date)s by %(index)s skipped: %(reason)s",
                date=format_date(env, adjustment.anniversary),
                index=adjustment.index_id.display_name,
                reason=adjustment.skip_reason,
            )
        else:
            intro = _(
                "Prices adjusted on %(date)s by %(index)s.",
                date=format_date(env, adjustment.anniversary),
                index=adjustment.index_id.display_name,
            )
        detail = _(
            "Accumulated variation from %(first)s to %(last)s: %(factor)s; applied: %(applied)s.",
            first=_format_month(env, adjustment.period_start),
            last=_format_month(env, adjustment.period_end),
            factor=adjustment._format_percent(adjustment.factor),
            applied=adjustment._format_percent(adjustment.applied_factor),
        )
        body = Markup("<p>%s</p><p>%s</p>") % (intro, detail)
        if adjustment.line_ids and adjustment.state == "applied":
            rows = Markup().join(
                Markup(
                    "<tr><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td></tr>"
                )
                % (
                    line.name,
                    formatLang(
                        env, line.old_price, dp="Product Price", currency_obj=self.currency_id
                    ),
                    formatLang(
                        env, line.new_price, dp="Product Price", currency_obj=self.currency_id
                    ),
                )
                for line in adjustment.line_ids
            )
            body += Markup(
                "<table class='table table-sm o_rbm_adjustment'><thead><tr><th>%s</th>"
                "<th class='text-end'>%s</th><th class='text-end'>%s</th></tr></thead>"
                "<tbody>%s</tbody></table>"
            ) % (_("Line"), _("Old price"), _("New price"), rows)
        self.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_note")

    def _send_price_adjustment_notice(self, anniversary):
        """Tell the customer about the coming adjustment (once per anniversary)."""
        self.ensure_one()
        adjustment = self._get_or_create_price_adjustment(anniversary)
        if adjustment.state != "pending" or adjustment.notice_date:
            return adjustment
        vals = {
            "state": "notified",
            "notice_date": fields.Date.context_today(self),
            "error_message": False,
            "error_date": False,
        }
        try:
            # the rate is known early only when the last month is already published
            vals.update(
                self._prepare_price_adjustment_vals(self._prepare_price_adjustment(anniversary))
            )
        except UserError:
            vals["line_ids"] = [fields.Command.clear()]
        adjustment.write(vals)
        template = self.env.ref(
            "rbm_recurring.mail_template_price_adjustment_notice", raise_if_not_found=False
        )
        if template:
            # queued: the mail cron sends it, outside of this transaction
            self.with_context(mail_notify_force_send=False).message_post_with_source(
                template,
                message_type="comment",
                email_layout_xmlid="mail.mail_notification_light",
                subtype_xmlid="mail.mt_comment",
            )
        return adjustment

    def _record_price_adjustment_refusal(self, anniversary, message, today):
        """The cron could not adjust: log it on the chatter (once per distinct
        message) and retry tomorrow."""
        self.ensure_one()
        adjustment = self._get_or_create_price_adjustment(anniversary)
        if adjustment.error_message != message:
            self.message_post(
                body=Markup("<p>%s</p><p>%s</p>")
                % (
                    _(
                        "The price adjustment of %(date)s could not be applied; it will be "
                        "tried again tomorrow:",
                        date=format_date(self.env, anniversary),
                    ),
                    message,
                ),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        adjustment.sudo().write({"error_message": message, "error_date": today})

    def _process_price_adjustment(self, today):
        """What the cron does for one contract today: adjust when an anniversary
        has come, else send the notice when it is due. Returns what was done."""
        self.ensure_one()
        anniversary = self._get_due_adjustment_anniversary(today)
        if anniversary:
            self._apply_price_adjustment(anniversary)
            return "applied"
        following = self.next_adjustment_date
        notice_from = following and following - timedelta(
            days=max(self.plan_id.adjustment_notice_days, 0)
        )
        if following and notice_from <= today < following:
            existing = self.adjustment_ids.filtered(lambda a: a.anniversary == following)
            if not existing.notice_date:
                self._send_price_adjustment_notice(following)
                return "notified"
        return False

    @api.model
    def _get_price_adjustment_domain(self, today):
        return [
            ("adjustment_action_date", "<=", today),
            ("state", "in", self._get_adjustable_states()),
        ]

    @api.model
    def _cron_price_adjustment(self, batch_size=100):
        """Daily: send the notices and adjust the prices of the contracts whose
        anniversary has come, a batch per call, re-triggering while work remains.
        A contract that cannot be adjusted is noted on its chatter and retried
        the next day; it never stops the others."""
        today = fields.Date.context_today(self)
        domain = self._get_price_adjustment_domain(today)
        contracts = self.search(domain, order="adjustment_action_date, id", limit=batch_size)
        counts = contracts._run_price_adjustment(today)
        remaining = self.search_count(domain)
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=remaining)
        _logger.info("Price adjustment run: %s, %s remaining", counts, remaining)
        # re-trigger only when this batch moved on, so that a stuck contract cannot loop
        if remaining and len(contracts) > counts["idle"]:
            self.env.ref("rbm_recurring.ir_cron_rbm_price_adjustment")._trigger()
        return counts

    def _run_price_adjustment(self, today):
        """Send the notices and adjust the prices of the contracts in ``self``
        whose anniversary has come, one contract at a time: a contract that
        cannot be adjusted is noted on its chatter and retried the next day.
        Returns the counts of contracts ``applied``, ``notified``, ``failed``
        and ``idle``."""
        counts = {"applied": 0, "notified": 0, "failed": 0, "idle": 0}
        for contract in self:
            anniversary = (
                contract._get_due_adjustment_anniversary(today) or contract.next_adjustment_date
            )
            try:
                with self.env.cr.savepoint():
                    done = contract._process_price_adjustment(today)
                counts[done or "idle"] += 1
            except Exception as error:  # noqa: BLE001 - reported on the contract
                if is_transient_error(error):
                    raise
                self.env.invalidate_all()
                message = self.env["rbm.billing.run"]._error_message(error)
                counts["failed"] += 1
                _logger.warning(
                    "Price adjustment of contract %s failed: %s",
                    contract.name,
                    mask_personal_data(message),
                )
                if anniversary:
                    with self.env.cr.savepoint():
                        contract._record_price_adjustment_refusal(anniversary, message, today)
        return counts


class RbmPriceAdjustment(models.Model):
    _name = "rbm.price.adjustment"
    _description = "Price Adjustment"
    _order = "anniversary desc, id desc"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "rbm.contract", required=True, ondelete="cascade", index=True, readonly=True
    )
    partner_id = fields.Many2one(
        related="contract_id.commercial_partner_id", store=True, string="Customer"
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    anniversary = fields.Date(required=True, readonly=True, index=True)
    index_id = fields.Many2one("rbm.price.index", string="Index", readonly=True)
    period_start = fields.Date(string="First Month", readonly=True)
    period_end = fields.Date(string="Last Month", readonly=True)
    factor = fields.Float(
        string="Accumulated Variation",
        digits=(16, 8),
        readonly=True,
        help="Index variation accumulated over the 12 months, e.g. 0.0452 for 4.52%.",
    )
    applied_factor = fields.Float(
        string="Applied Variation",
        digits=(16, 8),
        readonly=True,
        help="Variation applied to the prices after the negative-variation policy and the cap.",
    )
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("notified", "Customer Notified"),
            ("applied", "Applied"),
            ("skipped", "Skipped"),
        ],
        required=True,
        default="pending",
        readonly=True,
        index=True,
    )
    skip_reason = fields.Char(string="Reason", readonly=True)
    notice_date = fields.Date(readonly=True)
    date_done = fields.Date(string="Processed On", readonly=True)
    error_message = fields.Text(string="Last Error", readonly=True)
    error_date = fields.Date(string="Last Error On", readonly=True)
    line_ids = fields.One2many(
        "rbm.price.adjustment.line", "adjustment_id", string="Prices", readonly=True
    )

    _sql_constraints = [
        (
            "contract_anniversary_unique",
            "UNIQUE(contract_id, anniversary)",
            "A contract is adjusted once per anniversary.",
        ),
    ]

    @api.depends("contract_id", "anniversary")
    def _compute_display_name(self):
        for adjustment in self:
            adjustment.display_name = (
                f"{adjustment.contract_id.name or ''} — "
                f"{format_date(self.env, adjustment.anniversary)}"
            )

    def _format_percent(self, factor):
        """``0.0452`` → ``4.5200%`` in the language of the environment."""
        return f"{formatLang(self.env, (factor or 0.0) * 100, digits=4)}%"


class RbmPriceAdjustmentLine(models.Model):
    _name = "rbm.price.adjustment.line"
    _description = "Price Adjustment Line"
    _order = "adjustment_id, id"

    adjustment_id = fields.Many2one(
        "rbm.price.adjustment", required=True, ondelete="cascade", index=True
    )
    contract_line_id = fields.Many2one("rbm.contract.line", ondelete="set null")
    currency_id = fields.Many2one(related="adjustment_id.currency_id")
    name = fields.Char(string="Description")
    quantity = fields.Float(digits="Product Unit of Measure")
    old_price = fields.Float(digits="Product Price")
    new_price = fields.Float(digits="Product Price")


def _format_month(env, month):
    return format_date(env, month, date_format="MM/yyyy") if month else ""
