import json
import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date, split_every

from odoo.addons.rbm_recurring.engine.privacy import mask_personal_data
from odoo.addons.rbm_recurring.tools import auto_commit_allowed, check_staff_access

from .rbm_collection_policy import INSTALLMENT_POLICY_SQL, STEP_ACTIONS

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
           AND (p.rbm_collection_paused_until IS NULL
                OR p.rbm_collection_paused_until < %(today)s)
    )
    SELECT i.id, s.id
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


class RbmCollectionLog(models.Model):
    """One row per (step, installment): the step ran, was skipped or failed.
    The unique index makes every step run at most once per installment, even
    with two runs at once or a re-run after a crash."""

    _name = "rbm.collection.log"
    _description = "Collection Log"
    _order = "date desc, id desc"
    _rec_name = "step_id"

    step_id = fields.Many2one("rbm.collection.step", required=True, ondelete="restrict", index=True)
    policy_id = fields.Many2one("rbm.collection.policy", required=True, ondelete="cascade")
    action = fields.Selection(STEP_ACTIONS, required=True)
    move_line_id = fields.Many2one(
        "account.move.line", string="Installment", required=True, ondelete="cascade", index=True
    )
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, ondelete="cascade", index=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True)
    contract_id = fields.Many2one("rbm.contract", index="btree_not_null")
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(required=True, help="Day of the run that handled the step.")
    due_date = fields.Date(required=True)
    days_overdue = fields.Integer(
        help="Days past the due date on the run's day (negative: before)."
    )
    amount_residual = fields.Monetary(string="Amount Due", currency_field="currency_id")
    state = fields.Selection(
        [
            ("running", "Running"),
            ("done", "Done"),
            ("skipped", "Skipped"),
            ("failed", "Failed"),
        ],
        required=True,
        default="running",
    )
    message = fields.Text()

    def init(self):
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS rbm_collection_log_step_installment "
            "ON rbm_collection_log (step_id, move_line_id)"
        )

    # ------------------------------------------------------------
    # THE DAILY RUN
    # ------------------------------------------------------------

    @api.model
    def _cron_collection_run(self, batch_size=500):
        """Daily: late fees of installments paid late, reactivation of
        contracts whose debts are settled, then the due steps, batch after
        batch (each committed: a crash never sends twice)."""
        today = fields.Date.context_today(self)
        # commit batch after batch, except inside tests (one transaction)
        commit = auto_commit_allowed()
        # every company's installments, whoever the cron's user is
        self.sudo()._run(today, batch_size=batch_size, commit=commit)

    @api.model
    def _get_company_ids(self):
        """Companies a run covers: all as superuser (the cron), else the
        user's selected companies."""
        return None if self.env.su else self.env.companies.ids

    @api.model
    def _run(self, today, batch_size=500, commit=False):
        self.env["rbm.late.fee"]._process_paid_installments(today)
        self.env["account.move"]._rbm_collection_reactivate_settled(today)
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        done = 0
        after = 0  # installments are visited in id order: one scan in all
        while True:
            work = self._get_due_work(today, limit=batch_size, after=after)
            if not work:
                break
            after = max(line_id for line_id, _step_id in work)
            cards = self._process_batch(today, work)
            done += len({line_id for line_id, _step_id in work})
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            cards._run_card_steps(commit=commit)
            if commit:
                self.env["ir.cron"]._notify_progress(done=done, remaining=0)
        return done

    @api.model
    def _get_due_work(self, today, limit, after=0):
        """(installment id, step id) pairs due on ``today`` and not logged
        yet, in order: open receivable installments of posted customer
        invoices × the steps of the customer's policy (or the company's
        default) whose day has come; customers whose collection is paused
        are left out; installments after ``after`` (an id) only. One query."""
        company_ids = self._get_company_ids()
        self.env.flush_all()
        self.env.cr.execute(
            _DUE_WORK_SQL,
            {
                "today": today,
                "horizon": today + timedelta(days=60),
                "limit": limit,
                "after": after,
                "all_companies": company_ids is None,
                "company_ids": company_ids or [],
            },
        )
        rows = self.env.cr.fetchall()
        if len(rows) == limit:
            # never split an installment's steps over two batches
            last = rows[-1][0]
            trimmed = [row for row in rows if row[0] != last]
            rows = trimmed or rows
        return rows

    @api.model
    def _process_batch(self, today, work):
        """Run the steps of ``work``; returns the log rows of card steps,
        reserved and left to run after the batch is committed."""
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
        logs = self._reserve(vals_list)
        cards = self.browse()
        for log in logs.filtered(lambda entry: entry.state == "running"):
            if log.action == "card":
                cards |= log
                continue
            log._execute()
        return cards

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

    @api.model
    def _reserve(self, vals_list):
        """Insert the log rows; a row another run already holds is left out
        (INSERT … ON CONFLICT DO NOTHING): that run performs its step. One
        query per 1,000 rows; the rows come back in the order given."""
        if not vals_list:
            return self.browse()
        columns = list(vals_list[0])
        now = fields.Datetime.now()
        uid = self.env.uid
        row = "(" + ", ".join(["%s"] * (len(columns) + 4)) + ")"
        ids = []
        for chunk in split_every(1000, vals_list):
            params = []
            for vals in chunk:
                # False is NULL here (no boolean column): an invoice without contract
                params += [None if vals[c] is False else vals[c] for c in columns]
                params += [uid, now, uid, now]
            self.env.cr.execute(
                f"INSERT INTO rbm_collection_log ({', '.join(columns)}, "
                "create_uid, create_date, write_uid, write_date) "
                f"VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (step_id, move_line_id) DO NOTHING RETURNING id",
                params,
            )
            ids += [row_id for (row_id,) in self.env.cr.fetchall()]
        # ids grow with the insertion order
        logs = self.browse(sorted(ids))
        logs.invalidate_recordset()
        return logs

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def _execute(self):
        """Perform the step of each running log in its own savepoint: a
        failure is logged, never blocks the other installments."""
        for log in self:
            try:
                with self.env.cr.savepoint():
                    result = getattr(log, f"_action_{log.action}")()
                    # an action returns its message, or (state, message) when
                    # it failed but what it did must stay (a refused charge)
                    state, message = result if isinstance(result, tuple) else ("done", result)
                    log.write({"state": state, "message": message or False})
                    log._post_trace()
            except Exception as exc:  # noqa: BLE001 - any failure is logged on the row
                _logger.warning(
                    "Collection step %s failed on %s: %s",
                    log.step_id.id,
                    log.move_id.name,
                    mask_personal_data(exc),
                )
                log.write({"state": "failed", "message": str(exc)})
                log._post_trace()

    def _post_trace(self):
        """The step on the invoice's and the customer's chatter."""
        self.ensure_one()
        state_label = dict(self._fields["state"]._description_selection(self.env))[self.state]
        body = Markup("<p>%s</p>") % _(
            "Collection — %(step)s (%(policy)s): %(state)s. %(message)s",
            step=self.step_id.name,
            policy=self.policy_id.name,
            state=state_label,
            message=self.message or "",
        )
        self.move_id._message_log(body=body)
        self.partner_id._message_log(
            body=Markup("<p>%s</p>")
            % _(
                "Collection of %(invoice)s — %(step)s: %(state)s. %(message)s",
                invoice=self.move_id.name,
                step=self.step_id.name,
                state=state_label,
                message=self.message or "",
            )
        )

    def _action_email(self):
        move = self.move_id
        template = self.step_id.mail_template_id
        values = template._generate_template(
            move.ids,
            ("subject", "body_html", "partner_to", "email_to", "email_cc", "attachment_ids"),
            find_or_create_partners=True,
        )[move.id]
        partner_ids = values.get("partner_ids") or move.partner_id.ids
        partners = self.env["res.partner"].browse(partner_ids)
        if not any(partners.mapped("email")):
            raise UserError(
                _(
                    "The customer %(customer)s has no email address.",
                    customer=move.partner_id.display_name,
                )
            )
        attachment_ids = list(values.get("attachment_ids") or [])
        attachment_ids += move._rbm_collection_attachments().ids
        move.message_post(
            body=values.get("body_html"),
            subject=values.get("subject"),
            partner_ids=partner_ids,
            attachment_ids=attachment_ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        return _("Email sent to %(to)s.", to=", ".join(partners.mapped("email")))

    def _action_sms(self):
        move = self.move_id
        partner = move.partner_id
        if not (partner.mobile or partner.phone):
            raise UserError(
                _("The customer %(customer)s has no mobile number.", customer=partner.display_name)
            )
        move._message_sms_with_template(
            template=self.step_id.sms_template_id, partner_ids=partner.ids, put_in_queue=True
        )
        return _("SMS queued to %(number)s.", number=partner.mobile or partner.phone)

    def _action_activity(self):
        move = self.move_id
        step = self.step_id
        user = step.activity_user_id or move.invoice_user_id or move.company_id.partner_id.user_id
        activity_type = step.activity_type_id or self.env.ref("mail.mail_activity_data_call")
        move.activity_schedule(
            activity_type_id=activity_type.id,
            summary=step.activity_summary
            or _(
                "Collect %(amount)s",
                amount=format_amount(self.env, self.amount_residual, self.currency_id),
            ),
            user_id=(user or self.env.user).id,
            date_deadline=self.date,
        )
        return _("Activity for %(user)s.", user=(user or self.env.user).name)

    def _action_suspend(self):
        contract = self.contract_id
        if not contract:
            return _("No contract to suspend.")
        if contract.state != "active":
            return _("The contract is %(state)s: nothing to suspend.", state=contract.state)
        contract._suspend(date=self.date)
        contract.rbm_suspended_by_collection = True
        contract.message_post(
            body=_(
                "Suspended for non-payment of %(invoice)s (%(days)s days overdue).",
                invoice=self.move_id.name,
                days=self.days_overdue,
            )
        )
        return _("Contract %(contract)s suspended.", contract=contract.name)

    def _action_cancel(self):
        contract = self.contract_id
        if not contract:
            return _("No contract to cancel.")
        if contract.state not in ("active", "suspended", "trial"):
            return _("The contract is %(state)s: nothing to cancel.", state=contract.state)
        reason = self.step_id.cancel_reason_id or self.env.ref(
            "rbm_recurring.cancel_reason_non_payment", raise_if_not_found=False
        )
        contract._cancel(
            reason=reason,
            timing="now",
            today=self.date,
            note=_("Non-payment of %(invoice)s.", invoice=self.move_id.name),
        )
        return _("Contract %(contract)s cancelled.", contract=contract.name)

    def _action_card(self):
        move = self.move_id
        refusal = move._rbm_get_card_charge_refusal(None, "dunning")
        if refusal:
            raise UserError(refusal)
        attempts = move._rbm_charge_card("dunning")
        failed = attempts.filtered(lambda a: a.state == "failed")
        if failed:
            return "failed", _("Card charge refused: %(reason)s", reason=failed[:1].reason or "")
        if not attempts:
            raise UserError(_("No card charge was made."))
        if attempts.filtered(lambda a: a.state == "done"):
            return _("Card charged again: the invoice is paid.")
        return _("Card charge sent; waiting for the provider's answer.")

    def _action_webhook(self):
        step = self.step_id
        Event = self.env["rbm.provisioning.event"].sudo()
        if not self.contract_id:
            raise UserError(_("Webhooks are sent for contract invoices only."))
        occurred_at = fields.Datetime.now()
        payload = {
            "event": "collection_step",
            "occurred_at": occurred_at.replace(microsecond=0).isoformat() + "Z",
            "step": {
                "id": step.id,
                "name": step.name,
                "action": step.action,
                "day": step.day_offset,
            },
            "invoice": {
                "id": self.move_id.id,
                "name": self.move_id.name,
                "due_date": self.due_date.isoformat(),
                "amount_due": self.amount_residual,
                "days_overdue": self.days_overdue,
                "currency": self.currency_id.name,
            },
            **Event._prepare_contract_snapshot(self.contract_id.sudo()),
        }
        event_sudo = Event.create(
            {
                "endpoint_id": step.endpoint_id.id,
                "contract_id": self.contract_id.id,
                "event_type": "collection_step",
                "next_try_at": occurred_at,
            }
        )
        event_sudo.payload = json.dumps({"id": event_sudo.id, **payload}, ensure_ascii=False)
        Event._trigger_delivery()
        return _("Webhook queued for %(endpoint)s.", endpoint=step.endpoint_id.name)

    def _action_protest(self):
        self.move_id.rbm_legal_collection = True
        return _("Invoice flagged for protest / credit bureau.")

    def _run_card_steps(self, commit=False):
        """Card steps run after their log rows are committed: a crash while
        the provider charges leaves the row 'running' and it is never charged
        again by the next run."""
        for log in self:
            log._execute()
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def action_open_move(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.move_id._get_records_action()
