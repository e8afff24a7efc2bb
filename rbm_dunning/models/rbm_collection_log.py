import json
import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, split_every

from odoo.addons.rbm_recurring.engine.privacy import mask_personal_data
from odoo.addons.rbm_recurring.tools import check_staff_access

from .rbm_collection_policy import STEP_ACTIONS

_logger = logging.getLogger(__name__)


class RbmCollectionLog(models.Model):
    """One row per (step, installment): the step ran, was skipped or failed.
    The unique index makes every step run at most once per installment, even
    with two runs at once or a re-run after a crash. The collection run
    (``rbm.collection.run``) decides which steps are due and reserves their
    rows; a row performs its step (``_execute``)."""

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
        # where the day's run is (rbm.collection.run._get_day_cursor)
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS rbm_collection_log_date_installment "
            "ON rbm_collection_log (date, move_line_id)"
        )

    # ------------------------------------------------------------
    # RESERVATION
    # ------------------------------------------------------------

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
        events_sudo = self.env["rbm.provisioning.event"].sudo()
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
            **events_sudo._prepare_contract_snapshot(self.contract_id.sudo()),
        }
        event_sudo = events_sudo.create(
            {
                "endpoint_id": step.endpoint_id.id,
                "contract_id": self.contract_id.id,
                "event_type": "collection_step",
                "next_try_at": occurred_at,
            }
        )
        event_sudo.payload = json.dumps({"id": event_sudo.id, **payload}, ensure_ascii=False)
        events_sudo._trigger_delivery()
        return _("Webhook queued for %(endpoint)s.", endpoint=step.endpoint_id.name)

    def _action_protest(self):
        self.move_id.rbm_legal_collection = True
        return _("Invoice flagged for protest / credit bureau.")

    def action_open_move(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.move_id._get_records_action()
