import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools.misc import format_amount, format_date

from odoo.addons.rbm_recurring.models.rbm_billing_run import is_transient_error
from odoo.addons.rbm_recurring.tools import auto_commit_allowed, check_staff_access

from ..engine import card_retry

_logger = logging.getLogger(__name__)

# payment.transaction state -> attempt state
TX_STATE_TO_ATTEMPT = {
    "draft": "pending",
    "pending": "pending",
    "authorized": "pending",
    "done": "done",
    "cancel": "failed",
    "error": "failed",
}


class RbmCardAttempt(models.Model):
    _name = "rbm.card.attempt"
    _description = "Card Charge Attempt"
    _order = "id desc"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    contract_id = fields.Many2one(
        "rbm.contract",
        string="Contract",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    amount = fields.Monetary(required=True, readonly=True)
    token_id = fields.Many2one(
        "payment.token", string="Saved Card", required=True, ondelete="restrict", readonly=True
    )
    provider_id = fields.Many2one(related="token_id.provider_id", string="Provider")
    transaction_id = fields.Many2one(
        "payment.transaction",
        string="Transaction",
        ondelete="restrict",
        index="btree_not_null",
        readonly=True,
        copy=False,
    )
    attempt_number = fields.Integer(string="Attempt", required=True, readonly=True)
    origin = fields.Selection(
        [
            ("post", "Invoice posted"),
            ("retry", "Retry schedule"),
            ("dunning", "Collection rule"),
            ("manual", "Manual"),
        ],
        required=True,
        readonly=True,
    )
    date = fields.Date(
        required=True,
        readonly=True,
        default=fields.Date.context_today,
        help="Day of the charge.",
    )
    state = fields.Selection(
        [("pending", "Pending"), ("done", "Paid"), ("failed", "Failed")],
        required=True,
        default="pending",
        readonly=True,
        index=True,
    )
    reason = fields.Text(
        string="Provider Reason", readonly=True, help="Why the provider refused the charge."
    )
    hard_decline = fields.Boolean(
        readonly=True,
        help="The provider refused the charge for good (e.g. card reported lost or "
        "expired): it is not retried.",
    )
    next_retry_date = fields.Date(
        readonly=True,
        copy=False,
        help="Day the card is charged again, following the company's retry schedule. "
        "Empty when no retry follows.",
    )

    _sql_constraints = [
        (
            "move_attempt_uniq",
            "UNIQUE(move_id, attempt_number)",
            "An invoice cannot have two card charges with the same attempt number.",
        ),
        (
            "transaction_uniq",
            "UNIQUE(transaction_id)",
            "A payment transaction belongs to one card charge only.",
        ),
        ("attempt_positive", "CHECK(attempt_number > 0)", "Attempt numbers start at 1."),
    ]

    def init(self):
        super().init()
        # the retry cron reads the due retries only
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS rbm_card_attempt_next_retry_idx
                ON rbm_card_attempt (next_retry_date)
             WHERE next_retry_date IS NOT NULL
            """
        )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("move_id.name", "attempt_number")
    def _compute_display_name(self):
        for attempt in self:
            attempt.display_name = _(
                "%(invoice)s — attempt %(number)s",
                invoice=attempt.move_id.name or "",
                number=attempt.attempt_number,
            )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_mark_failed(self):
        """A charge left waiting (the run stopped before the provider answered,
        or the provider never called back): once checked with the provider that
        nothing was charged, fail it so that the retry schedule goes on."""
        check_staff_access(self, "write")
        for attempt in self.filtered(lambda a: a.state == "pending"):
            reason = _(
                "Marked as failed by %(user)s: the provider did not charge it.",
                user=self.env.user.name,
            )
            tx_sudo = attempt.sudo().transaction_id
            if tx_sudo.state in ("draft", "pending", "authorized"):
                tx_sudo._set_error(reason)  # the attempt follows its transaction
            else:
                attempt.sudo().write({"state": "failed", "reason": reason})
                attempt.sudo().next_retry_date = attempt._get_next_retry_date(
                    fields.Date.context_today(self)
                )
                attempt._log_on_move()
        return True

    def action_open_move(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.move_id.id,
            "view_mode": "form",
        }

    def action_open_transaction(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "payment.transaction",
            "res_id": self.transaction_id.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _get_retry_schedule(self):
        self.ensure_one()
        return card_retry.parse_schedule(self.company_id.rbm_card_retry_days)

    def _get_next_retry_date(self, today):
        """Next retry of this failed attempt's invoice, or False (hard decline,
        end of the schedule, invoice settled)."""
        self.ensure_one()
        move = self.move_id
        if (
            self.hard_decline
            or move.state != "posted"
            or move.payment_state in ("paid", "in_payment", "reversed")
        ):
            return False
        failed = move.rbm_card_attempt_ids.filtered(lambda a: a.state == "failed")
        first_failure = min(failed.mapped("date"))
        try:
            schedule = self._get_retry_schedule()
        except card_retry.ScheduleError:
            _logger.warning("Company %s has no valid card retry schedule", self.company_id.name)
            return False
        return card_retry.next_retry_date(schedule, first_failure, len(failed), today) or False

    def _sync_from_transaction(self):
        """Bring the attempts in line with their transaction's state (called
        whenever a transaction changes state, e.g. on a provider webhook), then
        log the outcome on the invoice."""
        today = fields.Date.context_today(self)
        for attempt in self.filtered("transaction_id"):
            tx = attempt.transaction_id
            state = TX_STATE_TO_ATTEMPT.get(tx.state, "pending")
            if state == attempt.state:
                continue
            vals = {"state": state, "reason": tx.state_message or False}
            if state == "failed":
                vals["hard_decline"] = tx._rbm_is_hard_decline()
                if not vals["reason"]:
                    vals["reason"] = dict(tx._fields["state"]._description_selection(self.env))[
                        tx.state
                    ]
            attempt.write(vals)
            if state == "failed":
                attempt.next_retry_date = attempt._get_next_retry_date(today)
            if state in ("done", "failed"):
                attempt._log_on_move()

    def _log_on_move(self):
        self.ensure_one()
        amount = format_amount(self.env, self.amount, self.currency_id)
        card = self.token_id.display_name
        if self.state == "done":
            body = _(
                "Card charge %(number)s of %(amount)s on %(card)s was approved.",
                number=self.attempt_number,
                amount=amount,
                card=card,
            )
        else:
            body = _(
                "Card charge %(number)s of %(amount)s on %(card)s failed: %(reason)s",
                number=self.attempt_number,
                amount=amount,
                card=card,
                reason=self.reason or "",
            )
            if self.hard_decline:
                body += " " + _("The provider declined it for good: no retry.")
            elif self.next_retry_date:
                body += " " + _(
                    "Next attempt on %(date)s.", date=format_date(self.env, self.next_retry_date)
                )
            else:
                body += " " + _("The retry schedule is over.")
        self.move_id.message_post(body=Markup("<p>%s</p>") % body, subtype_xmlid="mail.mt_note")

    @api.model
    def _cron_card_retries(self, batch_size=50):
        """Charge the cards of the invoices due for it: invoices just posted
        (first charge) and failed charges whose retry day came. A batch per
        call, re-triggering itself while work remains; each invoice is
        reserved (attempt row + transaction) and committed before the
        provider is called, so that a crash never charges it twice."""
        today = fields.Date.context_today(self)
        Move = self.env["account.move"]
        first_domain = [("rbm_card_charge_due", "=", True)]
        retry_domain = [("state", "=", "failed"), ("next_retry_date", "<=", today)]
        firsts = Move.search(first_domain, order="id", limit=batch_size)
        retries = self.search(retry_domain, order="next_retry_date, id", limit=batch_size)
        done = self._charge_card_batch(firsts, retries.move_id - firsts, today)
        remaining = Move.search_count(first_domain) + self.search_count(retry_domain)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining:
            self.env.ref("rbm_dunning.ir_cron_rbm_card_retries")._trigger()
        _logger.info("Card charges: %s invoices, %s remaining", done, remaining)
        return done

    @api.model
    def _charge_card_batch(self, firsts, retries, today, raise_transient=False):
        """Charge the cards of ``firsts`` (invoices just posted) and ``retries``
        (invoices whose retry day came), one invoice at a time: a failure is
        noted on its invoice and postponed, never blocking the others; with
        ``raise_transient`` a lock or serialization failure is raised instead
        (the caller tries again). Returns the number of invoices handled."""
        auto_commit = auto_commit_allowed()
        done = 0
        for moves, origin in ((firsts, "post"), (retries, "retry")):
            for move in moves:
                try:
                    if auto_commit:
                        # commits itself: once the charge is reserved, once answered
                        move._rbm_charge_card(origin, auto_commit=True)
                    else:
                        with self.env.cr.savepoint():
                            move._rbm_charge_card(origin)
                except Exception as error:  # noqa: BLE001 - reported, never blocks the batch
                    if raise_transient and is_transient_error(error):
                        raise
                    if auto_commit:
                        self.env.cr.rollback()  # pylint: disable=invalid-commit
                    self.env.invalidate_all(flush=False)
                    _logger.exception("Card charge of invoice %s failed", move.name)
                    move._rbm_postpone_card_charge(today, error)
                done += 1
                if auto_commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        return done
