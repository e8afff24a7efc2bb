import logging

import psycopg2

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.rbm_recurring.engine.privacy import mask_personal_data
from odoo.addons.rbm_recurring.tools import check_staff_access

_logger = logging.getLogger(__name__)

SETTLED_PAYMENT_STATES = ("paid", "in_payment", "reversed")
# transaction states of a payment on its way: no second charge meanwhile
IN_FLIGHT_TX_STATES = ("pending", "authorized", "done")


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_card_attempt_ids = fields.One2many(
        "rbm.card.attempt", "move_id", string="Card Charges", readonly=True
    )
    rbm_card_attempt_count = fields.Integer(
        string="Card Charge Count", compute="_compute_rbm_card_attempt_count"
    )
    rbm_contract_payment_mode = fields.Selection(
        related="rbm_contract_id.payment_mode", string="Contract Payment Method"
    )
    rbm_card_charge_due = fields.Boolean(
        string="Card Charge Due",
        copy=False,
        readonly=True,
        help="The saved card of this invoice's contract is charged by the next card charge run.",
    )

    def init(self):
        super().init()
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS account_move_rbm_card_charge_due_idx
                ON account_move (id)
             WHERE rbm_card_charge_due
            """
        )

    @api.depends("rbm_card_attempt_ids")
    def _compute_rbm_card_attempt_count(self):
        counts = dict(
            self.env["rbm.card.attempt"]._read_group(
                [("move_id", "in", self.ids)], ["move_id"], ["__count"]
            )
        )
        for move in self:
            move.rbm_card_attempt_count = counts.get(move, 0)

    # ------------------------------------------------------------
    # POSTING AND CANCELLING
    # ------------------------------------------------------------

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        to_charge = posted.filtered(lambda m: m._rbm_is_paid_by_card())
        if to_charge:
            # Charged by the card run right after this transaction commits:
            # the provider is never called for an invoice a rollback could undo.
            to_charge.rbm_card_charge_due = True
            self.env.ref("rbm_dunning.ir_cron_rbm_card_retries")._trigger()
        return posted

    def button_draft(self):
        # rights first: the card retries are stopped as superuser
        check_staff_access(self, "write")
        self._rbm_stop_card_charges()
        return super().button_draft()

    def _rbm_stop_card_charges(self):
        """No more automatic card charge for these invoices."""
        due = self.filtered("rbm_card_charge_due")
        if due:
            due.rbm_card_charge_due = False
        retries = self.sudo().rbm_card_attempt_ids.filtered("next_retry_date")
        if retries:
            retries.next_retry_date = False

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_charge_card(self):
        """Charge the contract's saved card now (button)."""
        check_staff_access(self, "write")
        self.ensure_one()
        refusal = self._rbm_get_card_charge_refusal()
        if refusal:
            raise UserError(refusal)
        attempts = self._rbm_charge_card("manual")
        if not attempts:
            raise UserError(
                _(
                    "Invoice %(invoice)s is being charged by another process; try again later.",
                    invoice=self.display_name,
                )
            )
        return self.action_rbm_view_card_attempts()

    def action_rbm_view_card_attempts(self):
        check_staff_access(self, "read")
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rbm_dunning.rbm_card_attempt_action"
        )
        action["domain"] = [("move_id", "in", self.ids)]
        action["context"] = {"create": False}
        return action

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _rbm_is_paid_by_card(self):
        self.ensure_one()
        return self.move_type == "out_invoice" and self.rbm_contract_id.payment_mode == "card"

    def _rbm_get_card_token(self, token=None):
        """The saved card to charge: ``token`` when given, else the contract's."""
        self.ensure_one()
        if token:
            return token
        if self.rbm_contract_id.payment_mode == "card":
            return self.rbm_contract_id.sudo().payment_token_id
        return self.env["payment.token"]

    def _rbm_get_card_charge_refusal(self, token=None, origin="manual"):
        """Why this invoice's card cannot be charged now, or False. Automatic
        charges (any ``origin`` but manual) happen once a day at most."""
        self.ensure_one()
        invoice = self.display_name
        if self.move_type != "out_invoice" or self.state != "posted":
            return _(
                "Only posted customer invoices can be charged on a card (%(invoice)s).",
                invoice=invoice,
            )
        if self.payment_state in SETTLED_PAYMENT_STATES or self.currency_id.is_zero(
            self.amount_residual
        ):
            return _("Invoice %(invoice)s has nothing left to pay.", invoice=invoice)
        token_sudo = self._rbm_get_card_token(token).sudo()
        if not token_sudo:
            return _(
                "Invoice %(invoice)s has no saved card to charge: its contract %(contract)s "
                "is not paid by a saved card.",
                invoice=invoice,
                contract=self.rbm_contract_id.display_name or "-",
            )
        if not token_sudo.active:
            return _(
                "The saved card %(card)s of invoice %(invoice)s was removed.",
                card=token_sudo.display_name,
                invoice=invoice,
            )
        if token_sudo.partner_id.commercial_partner_id != self.commercial_partner_id:
            return _(
                "The saved card %(card)s belongs to another customer than invoice %(invoice)s.",
                card=token_sudo.display_name,
                invoice=invoice,
            )
        if token_sudo.company_id != self.company_id:
            return _(
                "The saved card %(card)s belongs to another company than invoice %(invoice)s.",
                card=token_sudo.display_name,
                invoice=invoice,
            )
        if token_sudo.provider_id.state == "disabled":
            return _(
                "The payment provider %(provider)s of card %(card)s is disabled.",
                provider=token_sudo.provider_id.name,
                card=token_sudo.display_name,
            )
        in_flight = self.sudo().transaction_ids.filtered(lambda tx: tx.state in IN_FLIGHT_TX_STATES)
        if in_flight:
            return _(
                "Invoice %(invoice)s already has a payment on its way (%(reference)s).",
                invoice=invoice,
                reference=", ".join(in_flight.mapped("reference")),
            )
        pending = self.sudo().rbm_card_attempt_ids.filtered(lambda a: a.state == "pending")
        if pending:
            return _(
                "Card charge %(number)s of invoice %(invoice)s still waits for the provider's "
                "answer.",
                number=pending[0].attempt_number,
                invoice=invoice,
            )
        if origin != "manual" and self._rbm_card_charged_today():
            return _(
                "The card of invoice %(invoice)s was already charged today; the next "
                "automatic charge waits for another day.",
                invoice=invoice,
            )
        return False

    def _rbm_prepare_card_transaction_vals(self, token):
        """Values of the offline payment transaction charging ``token`` for
        what is left to pay on this invoice."""
        self.ensure_one()
        return {
            "provider_id": token.provider_id.id,
            "payment_method_id": token.payment_method_id.id,
            "token_id": token.id,
            "amount": self.currency_id.round(self.amount_residual),
            "currency_id": self.currency_id.id,
            "partner_id": self.partner_id.id,
            "operation": "offline",
            "invoice_ids": [Command.set(self.ids)],
        }

    def _rbm_charge_card(self, origin, token=None, auto_commit=False):
        """Charge the saved card of each posted customer invoice in ``self``
        for its amount left to pay (``origin``: post, retry, dunning, manual).

        Invoices that cannot be charged now (paid, a payment already on its
        way, no usable card) are skipped, with a note on the invoice when the
        charge was automatic. Each charge is first reserved (an attempt row
        with a unique number per invoice, and its transaction), then sent to
        the provider; a provider error becomes a failed attempt with its
        reason. Safe to call twice. Returns the attempts made."""
        Attempt = self.env["rbm.card.attempt"]
        reserved = Attempt
        for move in self:
            refusal = move._rbm_get_card_charge_refusal(token, origin)
            if refusal:
                move._rbm_skip_card_charge(origin, refusal)
                continue
            reserved |= move._rbm_reserve_card_attempt(origin, move._rbm_get_card_token(token))
        if auto_commit and reserved:
            # the reservation is durable before any provider is called
            self.env.cr.commit()  # pylint: disable=invalid-commit
        for attempt in reserved:
            attempt.move_id._rbm_send_card_attempt(attempt)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return reserved

    def _rbm_skip_card_charge(self, origin, refusal):
        """A charge of the card run that could not be made: say why on the
        invoice. While a payment is on its way (or the card was charged today),
        a due retry waits until tomorrow; for any other reason the automatic
        charges of the invoice stop."""
        self.ensure_one()
        if origin not in ("post", "retry"):
            return  # the caller (a button, a collection rule) has its own answer
        attempts_sudo = self.sudo().rbm_card_attempt_ids
        retries = attempts_sudo.filtered("next_retry_date")
        if not (self.rbm_card_charge_due or retries):
            return
        if self.rbm_card_charge_due:
            self.rbm_card_charge_due = False
        if retries and (self._rbm_has_card_payment_in_flight() or self._rbm_card_charged_today()):
            retries.next_retry_date = fields.Date.add(fields.Date.context_today(self), days=1)
        elif retries:
            retries.next_retry_date = False
        self.message_post(
            body=_("The card was not charged: %(reason)s", reason=refusal),
            subtype_xmlid="mail.mt_note",
        )

    def _rbm_card_charged_today(self):
        self.ensure_one()
        today = fields.Date.context_today(self)
        return any(a.date == today for a in self.sudo().rbm_card_attempt_ids)

    def _rbm_has_card_payment_in_flight(self):
        self.ensure_one()
        return any(tx.state in IN_FLIGHT_TX_STATES for tx in self.sudo().transaction_ids) or any(
            a.state == "pending" for a in self.sudo().rbm_card_attempt_ids
        )

    def _rbm_reserve_card_attempt(self, origin, token):
        """Create the next attempt of this invoice and its draft transaction,
        or nothing when another process reserved the same attempt number."""
        self.ensure_one()
        attempts_sudo = self.sudo().rbm_card_attempt_ids
        number = max(attempts_sudo.mapped("attempt_number"), default=0) + 1
        token_sudo = token.sudo()
        try:
            with self.env.cr.savepoint():
                attempt = (
                    self.env["rbm.card.attempt"]
                    .sudo()
                    .create(
                        {
                            "move_id": self.id,
                            "contract_id": self.rbm_contract_id.id,
                            "partner_id": self.partner_id.id,
                            "company_id": self.company_id.id,
                            "currency_id": self.currency_id.id,
                            "amount": self.currency_id.round(self.amount_residual),
                            "token_id": token_sudo.id,
                            "attempt_number": number,
                            "origin": origin,
                        }
                    )
                )
                tx_sudo = (
                    self.env["payment.transaction"]
                    .sudo()
                    .create(self._rbm_prepare_card_transaction_vals(token_sudo))
                )
                attempt.transaction_id = tx_sudo
                attempts_sudo.filtered("next_retry_date").next_retry_date = False
                if self.rbm_card_charge_due:
                    self.rbm_card_charge_due = False
                self.env.flush_all()
        except psycopg2.IntegrityError:
            self.env.invalidate_all()
            _logger.info("Card charge %s of invoice %s already reserved", number, self.name)
            return self.env["rbm.card.attempt"]
        return attempt

    def _rbm_send_card_attempt(self, attempt):
        """Ask the provider for the reserved charge ``attempt``; settle the
        invoice when it is approved."""
        self.ensure_one()
        attempt_sudo = attempt.sudo()
        tx_sudo = attempt_sudo.transaction_id
        try:
            with self.env.cr.savepoint():
                tx_sudo._send_payment_request()
        except Exception as error:  # noqa: BLE001 - any provider failure is a failed charge
            self.env.invalidate_all()
            if isinstance(error, (UserError, ValidationError)) and error.args:
                reason = str(error.args[0])
            else:
                reason = f"{type(error).__name__}: {error}"
            _logger.warning(
                "Card charge %s failed: %s", tx_sudo.reference, mask_personal_data(reason)
            )
            tx_sudo._set_error(reason)
        attempt_sudo._sync_from_transaction()
        if tx_sudo.state == "done" and not tx_sudo.is_post_processed:
            try:
                with self.env.cr.savepoint():
                    tx_sudo._post_process()
            except Exception:  # noqa: BLE001 - the payment's own cron post-processes it again
                self.env.invalidate_all()
                _logger.exception("Post-processing of %s failed", tx_sudo.reference)

    def _rbm_postpone_card_charge(self, today, error):
        """An unexpected error while charging this invoice: try again tomorrow
        and say so on the invoice, never blocking the run."""
        self.ensure_one()
        tomorrow = fields.Date.add(today, days=1)
        due = self.sudo().rbm_card_attempt_ids.filtered(
            lambda a: a.next_retry_date and a.next_retry_date <= today
        )
        if due:
            due.next_retry_date = tomorrow
        if self.rbm_card_charge_due:
            self.rbm_card_charge_due = False
        self.message_post(
            body=_(
                "The card could not be charged because of an error: %(error)s",
                error=str(error),
            ),
            subtype_xmlid="mail.mt_note",
        )
