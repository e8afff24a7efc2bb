"""The billing run: invoices the due periods of contracts.

One owner for the run, with explicit inputs: the contracts, the day it runs
for (``today``) and, for a closing invoice, the last day to bill (``until``).
Its steps, in order, for a batch of contracts (rows locked by the caller):

1. the contracts' scheduled changes due by ``today`` are applied;
2. each contract's due periods are computed once (``_get_due_periods``);
3. what the batch consumes across periods is read once
   (``rbm.contract._prepare_billing_state(due)``: fee installments, campaign
   periods, one-off charges, metered usage), then every period's invoice values
   are prepared (``_prepare_invoice_vals``);
4. the invoices are created in one call, the contracts advanced, the
   ``_after_billing`` hook run, and the invoices posted (and sent) as their
   plan says.

The batch is tried at once; when anything fails, each contract is tried alone
in its own savepoint, so one bad contract never stops the others: its error is
recorded on it (``billing_error``) and it is retried the next day. A transient
concurrency error (lock not available, serialization failure, deadlock) is not
a contract's failure: it propagates so that Odoo retries the request or the
cron runs again.

The contract lifecycle (trials that end, renewal notices, renewals, contracts
past their end date, scheduled changes of contracts not billed today) is a
separate cron, ``_cron_lifecycle``, each contract isolated the same way; it
runs before the billing run each night (02:30 and 03:00).
"""

import logging
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..engine.privacy import mask_personal_data

_logger = logging.getLogger(__name__)


def is_transient_error(error):
    """Whether ``error`` is a concurrency error the database asks to retry
    (never recorded as a contract's failure)."""
    return isinstance(error, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY)


class RbmBillingRun(models.AbstractModel):
    _name = "rbm.billing.run"
    _description = "Billing Run"

    # ------------------------------------------------------------
    # CRONS
    # ------------------------------------------------------------

    @api.model
    def _get_domain(self, today):
        """Contracts with an invoice due by ``today``; one that failed today
        waits for tomorrow."""
        return [
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
        Contract = self.env["rbm.contract"]
        domain = self._get_domain(today)
        contracts = Contract.search(domain, order="next_invoice_date, id", limit=batch_size)
        locked = self._lock(contracts)
        result = self._bill(locked, today)
        remaining = Contract.search_count(domain)
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

    @api.model
    def _lock(self, contracts, wait=False):
        """Lock the contract rows for billing; rows locked by another worker are
        skipped (cron) or waited for (button)."""
        if not contracts:
            return contracts
        contracts.flush_recordset()
        mode = "" if wait else " SKIP LOCKED"
        self.env.cr.execute(
            f"SELECT id FROM rbm_contract WHERE id IN %s FOR NO KEY UPDATE{mode}",  # noqa: S608
            [tuple(contracts.ids)],
        )
        locked = contracts.browse([row[0] for row in self.env.cr.fetchall()])
        # another worker may have billed them since this transaction read them
        locked.invalidate_recordset(["next_period_start", "next_invoice_date", "state"])
        return locked

    # ------------------------------------------------------------
    # BILLING
    # ------------------------------------------------------------

    @api.model
    def _bill(self, contracts, today, until=None):
        """Invoice all due periods of ``contracts`` (rows already locked by the
        caller). Returns ``{"moves": account.move, "failed": {contract: message}}``.
        """
        result = {"moves": self.env["account.move"], "failed": {}}
        if not contracts:
            return result
        try:
            with self.env.cr.savepoint():
                result["moves"] = self._bill_batch(contracts, today, until)
            return result
        except Exception as error:  # noqa: BLE001 - isolate below, one contract at a time
            if is_transient_error(error):
                raise
            self.env.invalidate_all()
            _logger.info("Billing batch of %s contracts failed, isolating", len(contracts))
        for contract in contracts:
            try:
                with self.env.cr.savepoint():
                    result["moves"] |= self._bill_batch(contract, today, until)
            except Exception as error:  # noqa: BLE001 - reported on the contract
                if is_transient_error(error):
                    raise
                self.env.invalidate_all()
                message = self._error_message(error)
                result["failed"][contract] = message
                _logger.warning(
                    "Billing of contract %s failed: %s", contract.name, mask_personal_data(message)
                )
        if result["failed"]:
            self._record_failures(result["failed"], today)
        return result

    @api.model
    def _bill_batch(self, contracts, today, until=None):
        """Every step of one batch; raises on any error so that the caller can
        roll the whole batch back."""
        self._apply_scheduled_changes(contracts, today)
        todo, state = self._prepare_batch(contracts, today, until)
        return self._create_invoices(contracts, todo, state)

    @api.model
    def _apply_scheduled_changes(self, contracts, today):
        """Changes scheduled by ``today`` take effect before the periods are
        billed (the new price bills the period that starts on their date)."""
        contracts.change_ids.filtered(
            lambda change: change.state == "scheduled" and change.date <= today
        )._apply()

    @api.model
    def _prepare_batch(self, contracts, today, until=None):
        """``(todo, state)``: ``todo`` lists (contract, period, invoice vals) for
        every due period of ``contracts``; ``state`` is what the batch consumed,
        after them. Due periods are computed once per contract, here."""
        due = {contract: contract._get_due_periods(today, until) for contract in contracts}
        state = contracts._prepare_billing_state(due)
        todo = []
        for contract, periods in due.items():
            for period in periods:
                todo.append((contract, period, contract._prepare_invoice_vals(period, state)))
        return todo, state

    @api.model
    def _create_invoices(self, contracts, todo, state):
        """Create the invoices of a prepared batch, advance each contract past
        its last billed period, run ``_after_billing`` and post."""
        moves = self.env["account.move"]
        vals_list = [vals for _contract, _period, vals in todo if vals]
        if vals_list:
            moves = (
                self.env["account.move"]
                .with_context(default_move_type="out_invoice", skip_invoice_sync=False)
                .create(vals_list)
            )
        # Advance each contract to the day after its last billed period; write
        # contracts that reach the same values together.
        next_start = {}
        for contract, period, _vals in todo:
            next_start[contract] = period["next_start"]
        groups = defaultdict(lambda: contracts.browse())
        for contract, start in next_start.items():
            left = state["campaign_left"].get(contract, contract.campaign_periods_left)
            groups[start, left] |= contract
        for (start, left), group in groups.items():
            vals = {
                "next_period_start": start,
                "billing_error": False,
                "billing_error_date": False,
            }
            if any(c.campaign_periods_left != left for c in group):
                vals["campaign_periods_left"] = left
            group.write(vals)
        contracts._after_billing(moves, state)
        # a campaign that ran out brings the MRR back from the next period on
        for contract, end_date in state["campaign_end"].items():
            contract._record_mrr_events(
                {contract: contract._get_effective_mrr_with_campaign()}, "campaign_end", end_date
            )
        self._post_invoices(moves)
        return moves

    @api.model
    def _post_invoices(self, moves):
        """Post (and queue for sending) the invoices their plan posts."""
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

    @api.model
    def _error_message(self, error):
        """The words recorded on a contract for ``error``."""
        if isinstance(error, (UserError, ValidationError)):
            return str(error.args[0]) if error.args else str(error)
        return f"{type(error).__name__}: {error}"

    @api.model
    def _record_failures(self, failed, today):
        for contract, message in failed.items():
            contract.write({"billing_error": message, "billing_error_date": today})
            contract.message_post(
                body=Markup("<p>%s</p><p>%s</p>")
                % (_("The billing run could not invoice this contract:"), message),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    # ------------------------------------------------------------
    # LIFECYCLE
    # ------------------------------------------------------------

    @api.model
    def _cron_lifecycle(self):
        """Lifecycle pass: trial reminders and ends, renewal notices, renewals,
        contracts past their end date, scheduled changes of contracts not
        billed today. Each contract alone in a savepoint: one that fails is
        noted on its chatter and the others go on (it is tried again the next
        night, as nothing of it was saved)."""
        today = fields.Date.context_today(self)
        counts = self._run_lifecycle(today)
        _logger.info("Contract lifecycle: %s", counts)
        return counts

    @api.model
    def _get_lifecycle_steps(self, today):
        """``(name, domain, method)`` of each lifecycle step, in order; ``method``
        is called on one contract with ``today``."""
        plans_sudo = self.env["rbm.plan"].sudo().with_context(active_test=False).search([])
        max_reminder = max(plans_sudo.mapped("trial_reminder_days") or [0])
        max_notice = max(plans_sudo.mapped("renewal_notice_days") or [0])
        running = [("state", "in", ("active", "suspended"))]
        return [
            (
                "trial_reminder",
                [
                    ("state", "=", "trial"),
                    ("trial_reminder_sent", "=", False),
                    ("trial_end", "<=", today + timedelta(days=max_reminder)),
                ],
                "_lifecycle_trial_reminder",
            ),
            (
                "trial_end",
                [("state", "=", "trial"), ("trial_end", "<", today)],
                "_lifecycle_trial_end",
            ),
            (
                "renewal_notice",
                running
                + [
                    ("commitment_end", ">=", today),
                    ("commitment_end", "<=", today + timedelta(days=max_notice)),
                    ("date_end", "=", False),
                    ("commitment_end_action", "=", "renew"),
                ],
                "_lifecycle_renewal_notice",
            ),
            (
                "renewal",
                running
                + [
                    ("commitment_end", "<", today),
                    ("date_end", "=", False),
                    ("commitment_end_action", "=", "renew"),
                ],
                "_lifecycle_renew",
            ),
            ("end", running + [("date_end", "<", today)], "_lifecycle_end"),
        ]

    @api.model
    def _run_lifecycle(self, today):
        """Every lifecycle step for ``today``, in order; returns how many
        contracts each step processed and how many failed."""
        contracts_sudo = self.env["rbm.contract"].sudo()
        counts = {"failed": 0}
        for name, domain, method in self._get_lifecycle_steps(today):
            counts[name] = 0
            for contract in contracts_sudo.search(domain, order="id"):
                try:
                    with self.env.cr.savepoint():
                        done = getattr(contract, method)(today)
                    counts[name] += 1 if done else 0
                except Exception as error:  # noqa: BLE001 - reported on the contract
                    if is_transient_error(error):
                        raise
                    self.env.invalidate_all()
                    counts["failed"] += 1
                    self._record_lifecycle_failure(contract, name, error)
        counts["changes"] = self._apply_due_changes(today)
        return counts

    @api.model
    def _record_lifecycle_failure(self, contract, step, error):
        message = self._error_message(error)
        _logger.warning(
            "Lifecycle step %s of contract %s failed: %s",
            step,
            contract.name,
            mask_personal_data(message),
        )
        contract.message_post(
            body=Markup("<p>%s</p><p>%s</p>")
            % (_("The contract lifecycle run could not process this contract:"), message),
            subtype_xmlid="mail.mt_note",
        )

    @api.model
    def _apply_due_changes(self, today):
        """Scheduled changes of contracts the billing run will not touch today;
        one that cannot apply any more is reported on its contract and
        cancelled. Returns how many were applied."""
        applied = 0
        changes = (
            self.env["rbm.contract.change"]
            .sudo()
            .search([("state", "=", "scheduled"), ("date", "<=", today)], order="id")
        )
        for change in changes:
            try:
                with self.env.cr.savepoint():
                    change._apply(today)
                applied += 1
            except (UserError, ValidationError) as error:
                self.env.invalidate_all()
                change.contract_id.message_post(
                    body=_(
                        "The scheduled change %(change)s could not be applied: %(error)s",
                        change=change.description,
                        error=error.args[0] if error.args else str(error),
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                change.state = "cancelled"
            except Exception as error:  # noqa: BLE001 - reported on the contract
                if is_transient_error(error):
                    raise
                self.env.invalidate_all()
                self._record_lifecycle_failure(change.contract_id, "scheduled_change", error)
        return applied
