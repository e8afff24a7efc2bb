import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import format_amount, format_date

from odoo.addons.rbm_recurring.tools import auto_commit_allowed

from .rbm_collection_policy import INSTALLMENT_POLICY_SQL

_logger = logging.getLogger(__name__)

# notifications of the same channel due at once: only the latest is sent
NOTIFICATION_ACTIONS = ("email", "sms")


_DUE_WORK_SQL = f"""
    WITH installment AS (
        SELECT aml.id, aml.date_maturity, pol.id AS policy_id
        {INSTALLMENT_POLICY_SQL}
           AND NOT aml.reconciled
           AND aml.amount_residual > 0
           AND aml.date_maturity <= %(horizon)s
           AND aml.id > %(after)s
           AND (%(line_ids)s::integer[] IS NULL OR aml.id = ANY(%(line_ids)s::integer[]))
           AND (p.rbm_collection_paused_until IS NULL
                OR p.rbm_collection_paused_until < %(today)s)
    )
    SELECT i.id, s.id, count(*) OVER ()
      FROM installment i
      JOIN rbm_collection_step s
        ON s.policy_id = i.policy_id AND s.active
     WHERE i.date_maturity + s.day_offset <= %(today)s
       AND NOT EXISTS (
            SELECT 1 FROM rbm_collection_log l
             WHERE l.step_id = s.id AND l.move_line_id = i.id)
  ORDER BY i.id, s.day_offset, s.sequence, s.id
     LIMIT %(limit)s
    """


class RbmCollectionRun(models.AbstractModel):
    """The daily collection run: which steps of the policies are due on which
    installments, a batch per call. Each step is reserved as a row of
    ``rbm.collection.log`` (unique per step and installment) before it is
    performed, so that a step runs at most once, even with two runs at once
    or a re-run after a crash; the log row performs it."""

    _name = "rbm.collection.run"
    _description = "Collection Run"

    # ------------------------------------------------------------
    # THE CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_collection_run(self, batch_size=500):
        """Daily: late fees of installments paid late, reactivation of
        contracts whose debts are settled, then the due steps, a batch per
        call, re-triggering itself while work remains."""
        today = fields.Date.context_today(self)
        # every company's installments, whoever the cron's user is
        result = self.sudo()._run_batch(today, batch_size=batch_size, commit=auto_commit_allowed())
        self.env["ir.cron"]._notify_progress(done=result["steps"], remaining=result["remaining"])
        _logger.info(
            "Collection run: %s installments, %s steps, %s steps remaining",
            result["installments"],
            result["steps"],
            result["remaining"],
        )
        if result["remaining"]:
            self.env.ref("rbm_dunning.ir_cron_rbm_collection_run")._trigger()
        return result

    @api.model
    def _run_all(self, today, batch_size=500):
        """The whole day's run in one transaction, batch after batch (what
        the cron does over several calls, without its commits). Returns the
        number of installments whose steps were handled."""
        done = 0
        while True:
            result = self._run_batch(today, batch_size=batch_size)
            done += result["installments"]
            if not (result["steps"] and result["remaining"]):
                return done

    # ------------------------------------------------------------
    # ONE BATCH
    # ------------------------------------------------------------

    @api.model
    def _run_batch(self, today, batch_size=500, commit=False):
        """One batch of the day's run: the late fees and reactivations, then
        the steps due on up to ``batch_size`` steps' worth of installments.
        The log rows of the batch are reserved and its steps performed in one
        transaction (a crash before the commit leaves nothing behind: the next
        run does it all again); card steps are performed after that commit,
        one commit each, so that a crash while the provider charges never
        charges twice. ``commit`` is for the cron only.

        Returns the installments and steps handled and the steps remaining."""
        self.env["rbm.late.fee"]._process_paid_installments(today)
        self.env["account.move"]._rbm_collection_reactivate_settled(today)
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        # the installments are visited in id order: a day's batches read the
        # open installments once in all, from the last one logged that day
        cursor = self._get_day_cursor(today)
        work, total = self._get_due_work(today, limit=batch_size, after=cursor)
        if not work and cursor:
            # behind the cursor: steps that came due since (a pause lifted,
            # a policy assigned), for a run started again the same day
            work, total = self._get_due_work(today, limit=batch_size)
        if not work:
            return {"installments": 0, "steps": 0, "remaining": 0}
        cards = self._process_batch(today, work)
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        self._execute_committed(cards, commit=commit)
        return {
            "installments": len({line_id for line_id, _step_id in work}),
            "steps": len(work),
            "remaining": total - len(work),
        }

    @api.model
    def _get_company_ids(self):
        """Companies a run covers: all as superuser (the cron), else the
        user's selected companies."""
        return None if self.env.su else self.env.companies.ids

    @api.model
    def _get_day_cursor(self, today):
        """The last installment (id) logged by the run of ``today``, 0 before
        its first batch."""
        company_ids = self._get_company_ids()
        self.env["rbm.collection.log"].flush_model()
        self.env.cr.execute(
            """
            SELECT max(move_line_id) FROM rbm_collection_log
             WHERE date = %(today)s
               AND (%(all_companies)s OR company_id = ANY(%(company_ids)s))
            """,
            {
                "today": today,
                "all_companies": company_ids is None,
                "company_ids": company_ids or [],
            },
        )
        return self.env.cr.fetchone()[0] or 0

    @api.model
    def _get_due_work(self, today, limit, after=0, line_ids=None):
        """(installment id, step id) pairs due on ``today`` and not logged
        yet, in order, and how many there are in all: open receivable
        installments of posted customer invoices × the steps of the
        customer's policy (or the company's default) whose day has come;
        customers whose collection is paused are left out; installments after
        ``after`` (an id) only, and among ``line_ids`` when given (a job's
        installments). One query."""
        company_ids = self._get_company_ids()
        self.env.flush_all()
        self.env.cr.execute(
            _DUE_WORK_SQL,
            {
                "today": today,
                "horizon": today + timedelta(days=60),
                "limit": limit,
                "after": after,
                "line_ids": list(line_ids) if line_ids is not None else None,
                "all_companies": company_ids is None,
                "company_ids": company_ids or [],
            },
        )
        result = self.env.cr.fetchall()
        total = result[0][2] if result else 0
        rows = [(line_id, step_id) for line_id, step_id, _total in result]
        if len(rows) == limit:
            # never split an installment's steps over two batches
            last = rows[-1][0]
            trimmed = [row for row in rows if row[0] != last]
            rows = trimmed or rows
        return rows, total

    @api.model
    def _process_batch(self, today, work):
        """Reserve the log rows of ``work`` and perform their steps; returns
        the log rows of card steps, reserved and left to perform after the
        batch is committed."""
        AML = self.env["account.move.line"]
        Step = self.env["rbm.collection.step"]
        lines = AML.browse({line_id for line_id, _s in work})
        steps = Step.browse({step_id for _l, step_id in work})
        lines.fetch(["move_id", "date_maturity", "amount_residual", "company_id"])
        moves = lines.move_id
        moves.fetch(["rbm_contract_id", "commercial_partner_id", "invoice_date", "company_id"])
        steps.fetch(["policy_id", "action", "day_offset"])
        by_line = {}
        for line_id, step_id in work:
            by_line.setdefault(line_id, []).append(Step.browse(step_id))
        vals_list = []
        for line in lines:
            line_steps = by_line[line.id]
            start = self._get_collection_start(line, line_steps[0].policy_id)
            latest = {}
            for step in line_steps:
                if step.action in NOTIFICATION_ACTIONS:
                    latest[step.action] = step
            for step in line_steps:
                day = line.date_maturity + timedelta(days=step.day_offset)
                state, message = "running", False
                if step.policy_id.skip_past_steps and day < start:
                    state = "skipped"
                    message = _(
                        "The step's day (%(day)s) is before the policy started applying to "
                        "this installment (%(start)s).",
                        day=format_date(self.env, day),
                        start=format_date(self.env, start),
                    )
                elif step.action in NOTIFICATION_ACTIONS and latest[step.action] != step:
                    state = "skipped"
                    message = _(
                        "Superseded by the later step %(step)s.", step=latest[step.action].name
                    )
                else:
                    message = self._check_conditions(step, line)
                    if message:
                        state = "skipped"
                vals_list.append(self._prepare_log_vals(step, line, today, state, message))
        logs = self.env["rbm.collection.log"]._reserve(vals_list)
        running = logs.filtered(lambda entry: entry.state == "running")
        cards = running.filtered(lambda entry: entry.action == "card")
        (running - cards)._execute()
        return cards

    @api.model
    def _execute_committed(self, logs, commit=False):
        """Perform the steps of ``logs`` (card steps) after their rows are
        committed, one commit each: a crash while the provider charges
        leaves the row 'running' and it is never charged again by the next
        run."""
        for log in logs:
            log._execute()
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------
    # THE RULES OF A STEP ON AN INSTALLMENT
    # ------------------------------------------------------------

    @api.model
    def _get_collection_start(self, line, policy):
        """First day the policy applies to the installment: the invoice's day,
        or later when the customer got the policy later (or it was created
        later)."""
        move = line.move_id
        start = move.invoice_date or line.date_maturity
        partner = move.commercial_partner_id
        if partner.rbm_collection_policy_id == policy and partner.rbm_collection_policy_date:
            start = max(start, partner.rbm_collection_policy_date)
        else:
            start = max(start, policy.date_start)
        return start

    @api.model
    def _check_conditions(self, step, line):
        """Why ``step`` does not apply to ``line``, or False."""
        move = line.move_id
        if step.min_overdue_amount and line.amount_residual < step.min_overdue_amount:
            return _(
                "The amount due (%(due)s) is below the step's minimum (%(minimum)s).",
                due=format_amount(self.env, line.amount_residual, line.currency_id),
                minimum=format_amount(self.env, step.min_overdue_amount, step.currency_id),
            )
        if step.partner_category_ids and not (
            step.partner_category_ids & move.commercial_partner_id.category_id
        ):
            return _("The customer has none of the step's tags.")
        if step.payment_mode and move._rbm_get_payment_mode() != step.payment_mode:
            return _(
                "The installment is not paid by %(mode)s.",
                mode=dict(step._fields["payment_mode"]._description_selection(self.env))[
                    step.payment_mode
                ],
            )
        return False

    @api.model
    def _prepare_log_vals(self, step, line, today, state, message):
        move = line.move_id
        return {
            "step_id": step.id,
            "policy_id": step.policy_id.id,
            "action": step.action,
            "move_line_id": line.id,
            "move_id": move.id,
            "partner_id": move.commercial_partner_id.id,
            "contract_id": move.rbm_contract_id.id,
            "company_id": move.company_id.id,
            "date": today,
            "due_date": line.date_maturity,
            "days_overdue": (today - line.date_maturity).days,
            "amount_residual": line.amount_residual,
            "state": state,
            "message": message or False,
        }
