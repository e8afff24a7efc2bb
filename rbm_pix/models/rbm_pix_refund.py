"""A refund (``devolucao``) of a Pix payment received, requested from the back office.

Lifecycle
=========

The wizard *Devolver Pix* creates the refund in state ``to_send`` under our own refund id;
nothing is sent inside that transaction. The refunds cron sends it after the commit
(``PUT /pix/{e2eid}/devolucao/{id}``, idempotent: sent again after a crash, the PSP answers
that the id is used and the refund is read back, never made twice). The PSP answers
``EM_PROCESSAMENTO`` (state ``requested``), then ``DEVOLVIDO`` (``refunded``) or
``NAO_REALIZADO`` (``failed``, with the PSP's reason). The final status arrives in the
``devolucoes`` of the PSP's ``/pix`` notification, or is read back by the cron; a final
state is never changed again, so a repeated or late notification changes nothing.

What may be refunded
====================

The refunds of one payment that did not fail never exceed its amount: the refunded total is
kept on the payment (``rbm_pix_refunded_amount``) by an ``UPDATE`` of the payment's row,
and a database ``CHECK`` keeps it within the amount. Two refunds requested at once update
the same row: the second waits for the first, and is refused when both would exceed it.

Accounting
==========

Nothing is posted before the PSP confirms. On ``DEVOLVIDO``: an outbound payment of the
refunded amount to the customer, on the journal of the refunded payment. By default it
takes the refunded payment's place on the invoice: the invoice is open again by that amount
(the customer owes it again). When the user chose to issue a credit note, a credit note of
that amount reverses that part of the invoice, and the outbound payment is reconciled with
the credit note (the invoice stays paid). A failed refund posts nothing.
"""

import datetime
import logging

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine.pix_api import (
    PixApiError,
    PixError,
    PixRequestError,
    format_amount,
    make_refund_id,
)

_logger = logging.getLogger(__name__)

REFUND_ID_PREFIX = "RBMD"
# the PSP's statuses of a refund (Devolucao.status)
PSP_STATES = {
    "EM_PROCESSAMENTO": "requested",
    "DEVOLVIDO": "refunded",
    "NAO_REALIZADO": "failed",
}
FINAL_STATES = ("refunded", "failed")


class RbmPixRefund(models.Model):
    _name = "rbm.pix.refund"
    _description = "Pix Refund"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Refund ID",
        required=True,
        readonly=True,
        copy=False,
        help="Our id of the refund at the PSP (PUT /pix/{e2eid}/devolucao/{id}).",
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    connection_id = fields.Many2one(
        "rbm.pix.connection",
        string="PSP Connection",
        required=True,
        readonly=True,
        ondelete="restrict",
        check_company=True,
    )
    payment_id = fields.Many2one(
        "account.payment",
        string="Refunded Payment",
        required=True,
        readonly=True,
        ondelete="restrict",
        index=True,
        check_company=True,
    )
    end_to_end_id = fields.Char(string="End-to-End ID", required=True, readonly=True, index=True)
    charge_id = fields.Many2one(
        "rbm.pix.charge", string="Pix Charge", readonly=True, ondelete="set null"
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    invoice_id = fields.Many2one(
        "account.move",
        string="Invoice",
        readonly=True,
        help="The invoice the refunded payment paid (re-opened, or credited, by the refund).",
    )
    amount = fields.Monetary(required=True, readonly=True)
    nature = fields.Selection(
        [
            ("ORIGINAL", "Ordinary Pix (ORIGINAL)"),
            ("RETIRADA", "Pix Saque/Troco withdrawal (RETIRADA)"),
        ],
        required=True,
        default="ORIGINAL",
        readonly=True,
    )
    description = fields.Char(readonly=True, help="Message shown to the payer (140 characters).")
    issue_credit_note = fields.Boolean(
        readonly=True,
        help="Once refunded, a credit note of the amount reverses that part of the invoice; "
        "otherwise the invoice is open again by the amount refunded.",
    )
    state = fields.Selection(
        [
            ("to_send", "To Send"),
            ("requested", "Requested"),
            ("refunded", "Refunded"),
            ("failed", "Failed"),
        ],
        default="to_send",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
    )
    rtr_id = fields.Char(string="Return ID (rtrId)", readonly=True, copy=False)
    requested_on = fields.Datetime(readonly=True, copy=False)
    refunded_on = fields.Datetime(readonly=True, copy=False)
    failure_reason = fields.Text(string="Reason of the Failure", readonly=True, copy=False)
    error_message = fields.Text(string="Last Error", readonly=True, copy=False)
    refund_payment_id = fields.Many2one(
        "account.payment", string="Outbound Payment", readonly=True, copy=False
    )
    credit_note_id = fields.Many2one(
        "account.move", string="Credit Note", readonly=True, copy=False
    )

    _sql_constraints = [
        ("name_uniq", "unique(name)", "A Pix refund ID is used by one refund only."),
        ("amount_positive", "CHECK(amount > 0)", "The amount of a Pix refund must be positive."),
    ]

    # ------------------------------------------------------------
    # CREATION
    # ------------------------------------------------------------

    @api.model
    def _create_for_payment(
        self, payment, amount, nature="ORIGINAL", description=False, issue_credit_note=False
    ):
        """A refund ``to_send`` of ``amount`` of the Pix ``payment`` (callers check rights;
        this runs as superuser). Refused in words when the payment is not a Pix payment
        received or when ``amount`` exceeds what is left to refund."""
        payment = payment.sudo()
        payment.ensure_one()
        currency = payment.currency_id
        amount = currency.round(amount)
        if not payment._rbm_pix_is_refundable():
            raise UserError(
                _(
                    "Payment %(payment)s is not a Pix payment received that can be refunded: "
                    "it must be posted, inbound and carry the Pix end-to-end ID.",
                    payment=payment.display_name,
                )
            )
        if currency.compare_amounts(amount, 0) <= 0:
            raise UserError(
                _(
                    "The amount to refund of payment %(payment)s must be positive.",
                    payment=payment.display_name,
                )
            )
        connection = payment._rbm_pix_get_connection()
        if not connection:
            raise UserError(
                _(
                    "Payment %(payment)s cannot be refunded: company %(company)s has no "
                    "active PSP connection.",
                    payment=payment.display_name,
                    company=payment.company_id.name,
                )
            )
        # the payment's row is locked first: two requests at once wait for each other
        # (a repeatable-read transaction that lost the race is retried), then the
        # refunded total is updated on that row, within the amount (database CHECK)
        refundable = payment._rbm_pix_lock_refundable()
        if currency.compare_amounts(amount, refundable) > 0:
            raise UserError(
                _(
                    "Pix refund of %(amount)s refused: only %(left)s of payment %(payment)s "
                    "(%(total)s) is left to refund.",
                    amount=_format_brl(amount),
                    left=_format_brl(refundable),
                    payment=payment.display_name,
                    total=_format_brl(payment.amount),
                )
            )
        payment._rbm_pix_add_refunded(amount)
        charge = (
            self.env["rbm.pix.charge"].sudo().search([("payment_id", "=", payment.id)], limit=1)
        )
        invoice = charge.move_id or payment._rbm_pix_get_invoice()
        refund = self.create(
            {
                "name": make_refund_id(REFUND_ID_PREFIX),
                "company_id": payment.company_id.id,
                "connection_id": connection.id,
                "payment_id": payment.id,
                "end_to_end_id": payment.rbm_pix_end_to_end_id,
                "charge_id": charge.id,
                "partner_id": payment.partner_id.id,
                "invoice_id": invoice.id,
                "amount": amount,
                "nature": nature,
                "description": (description or "")[:140] or False,
                "issue_credit_note": issue_credit_note,
            }
        )
        message = _(
            "Pix refund %(refund)s of %(amount)s requested (sent to the PSP by the refunds cron).",
            refund=refund.name,
            amount=_format_brl(amount),
        )
        payment.message_post(body=message)
        self.env.ref("rbm_pix.ir_cron_rbm_pix_refunds")._trigger()
        return refund

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        self._process_pending(auto_commit=True)

    @api.model
    def _process_pending(self, auto_commit=False):
        """Send the refunds to send, read back the ones still in processing."""
        for state, method in (("to_send", "_send"), ("requested", "_poll")):
            for refund in self.search([("state", "=", state)], order="id"):
                refund._run(method, auto_commit)

    def _run(self, method, auto_commit):
        self.ensure_one()
        connection = self.connection_id
        try:
            with self.env.cr.savepoint(), connection._get_client() as client:
                getattr(self, method)(client)
        except PixError as error:
            message = connection._get_pix_error_message(error)
            refused = isinstance(error, PixApiError) and (error.status or 0) < 500
            if refused and self.state == "to_send":
                self._apply_status({"status": "NAO_REALIZADO", "motivo": message})
            else:
                self.write({"error_message": message})
            _logger.info("Pix refund %s: %s failed: %s", self.name, method, error)
        except UserError as error:
            self.write({"error_message": error.args[0]})
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _prepare_body(self):
        self.ensure_one()
        body = {"valor": format_amount(self.amount), "natureza": self.nature}
        if self.description:
            body["descricao"] = self.description[:140]
        return body

    def _send(self, client):
        """``PUT`` the refund under our id; answered "id already used" (it was sent
        before a crash), it is read back."""
        self.ensure_one()
        try:
            answer = client.put_devolucao(self.end_to_end_id, self.name, self._prepare_body())
        except PixRequestError:
            raise
        except PixApiError as error:
            if error.status is None or error.status >= 500:
                raise
            try:
                answer = client.get_devolucao(self.end_to_end_id, self.name)
            except PixApiError:
                raise error from None
        if self.state == "to_send":
            self.write({"requested_on": fields.Datetime.now()})
        self._apply_status(answer)

    def _poll(self, client):
        self.ensure_one()
        self._apply_status(client.get_devolucao(self.end_to_end_id, self.name))

    # ------------------------------------------------------------
    # STATUS
    # ------------------------------------------------------------

    @api.model
    def _apply_notifications(self, connection, items):
        """The refunds' statuses in the ``devolucoes`` of a ``/pix`` notification's
        items; each refund moves forward only. Returns the refunds changed."""
        changed = self.browse()
        wanted = {}
        for item in items:
            e2e = item.get("endToEndId")
            refunds = item.get("devolucoes")
            if not isinstance(refunds, list) or not isinstance(e2e, str):
                continue
            for data in refunds:
                if isinstance(data, dict) and isinstance(data.get("id"), str):
                    wanted[(e2e, data["id"])] = data
        if not wanted:
            return changed
        refunds = self.search(
            [
                ("connection_id", "=", connection.id),
                ("name", "in", [key[1] for key in wanted]),
            ]
        )
        for refund in refunds:
            data = wanted.get((refund.end_to_end_id, refund.name))
            if not data:
                continue
            try:
                with self.env.cr.savepoint():
                    if refund._apply_status(data):
                        changed |= refund
            except UserError as error:
                # kept in processing: the cron reads it back and tries again
                refund.write({"error_message": error.args[0]})
        return changed

    def _apply_status(self, data):
        """Apply the PSP's view of the refund (``Devolucao``); a final state is kept.
        Returns whether the state changed."""
        self.ensure_one()
        # one change at a time per refund (a notification and the cron at once)
        self.env.cr.execute(SQL("SELECT id FROM rbm_pix_refund WHERE id = %s FOR UPDATE", self.id))
        self.invalidate_recordset()
        if self.state in FINAL_STATES:
            return False
        data = data if isinstance(data, dict) else {}
        new_state = PSP_STATES.get(data.get("status"))
        values = {"error_message": False}
        if isinstance(data.get("rtrId"), str):
            values["rtr_id"] = data["rtrId"][:32]
        if new_state == "failed":
            reason = data.get("motivo") or _("The PSP did not make the refund.")
            values.update(state="failed", failure_reason=reason)
            self.write(values)
            self.payment_id._rbm_pix_add_refunded(-self.amount)
            self.payment_id.message_post(
                body=_(
                    "Pix refund %(refund)s of %(amount)s was not made: %(reason)s",
                    refund=self.name,
                    amount=_format_brl(self.amount),
                    reason=reason,
                )
            )
            return True
        if new_state == "refunded":
            settled = _parse_moment((data.get("horario") or {}).get("liquidacao"))
            values.update(state="refunded", refunded_on=settled or fields.Datetime.now())
            self.write(values)
            self._post_refund()
            return True
        if new_state == "requested" and self.state == "to_send":
            values["state"] = "requested"
            self.write(values)
            return True
        self.write(values)
        return False

    # ------------------------------------------------------------
    # ACCOUNTING
    # ------------------------------------------------------------

    def _post_refund(self):
        """The outbound payment of the refund, reconciled with the refunded payment's
        counterpart (the invoice re-opens by the amount) or with a credit note."""
        self.ensure_one()
        paid = self.payment_id
        receivable = paid._rbm_pix_counterpart_line()
        date = fields.Date.context_today(self, self.refunded_on)
        memo = _("Pix refund %(refund)s of %(e2e)s", refund=self.name, e2e=self.end_to_end_id)
        outbound = self.env["account.payment"].create(
            {
                "payment_type": "outbound",
                "partner_type": "customer",
                "partner_id": paid.partner_id.id,
                "amount": self.amount,
                "currency_id": paid.currency_id.id,
                "date": date,
                "journal_id": paid.journal_id.id,
                "company_id": paid.company_id.id,
                "memo": memo,
                "destination_account_id": receivable.account_id.id,
            }
        )
        outbound.action_post()
        outbound_line = outbound.move_id.line_ids.filtered(
            lambda line: line.account_id == receivable.account_id
        )
        Line = self.env["account.move.line"]
        if self.issue_credit_note:
            credit_note = self._create_credit_note(receivable.account_id, date)
            note_line = credit_note.line_ids.filtered(
                lambda line: line.account_id == receivable.account_id
            )
            Line._reconcile_plan([outbound_line + note_line])
            self.credit_note_id = credit_note
            text = _(
                "Pix refund %(refund)s of %(amount)s made: paid back by %(payment)s and "
                "credited by %(credit_note)s.",
                refund=self.name,
                amount=_format_brl(self.amount),
                payment=outbound.display_name,
                credit_note=credit_note.display_name,
            )
        else:
            # the refund takes the refunded payment's place: what it paid is matched
            # again after the refund, so the lines it paid last re-open
            refunds_made = paid.rbm_pix_refund_ids.refund_payment_id.move_id
            partials = receivable.matched_debit_ids.filtered(
                lambda partial: partial.debit_move_id.move_id not in refunds_made
            )
            paid_lines = partials.debit_move_id.sorted(lambda line: (line.date, line.id))
            partials.unlink()
            Line._reconcile_plan([outbound_line + receivable])
            if paid_lines and not receivable.reconciled:
                Line._reconcile_plan([receivable + paid_lines])
            text = _(
                "Pix refund %(refund)s of %(amount)s made: paid back by %(payment)s; the "
                "customer owes that amount again.",
                refund=self.name,
                amount=_format_brl(self.amount),
                payment=outbound.display_name,
            )
        self.refund_payment_id = outbound
        for record in (paid, self.invoice_id):
            if record:
                record.message_post(body=text)

    def _create_credit_note(self, receivable_account, date):
        """A credit note of the refund's amount for the invoice (one line, no tax: the
        amount refunded)."""
        self.ensure_one()
        invoice = self.invoice_id
        product_lines = invoice.invoice_line_ids.filtered(
            lambda line: line.display_type == "product"
        )
        income = product_lines[:1].account_id
        if not income:
            raise UserError(
                _(
                    "Pix refund %(refund)s: invoice %(invoice)s has no product line to "
                    "credit; the credit note cannot be issued.",
                    refund=self.name,
                    invoice=invoice.display_name or "-",
                )
            )
        credit_note = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "company_id": invoice.company_id.id,
                "journal_id": invoice.journal_id.id,
                "invoice_date": date,
                "date": date,
                "currency_id": invoice.currency_id.id,
                "reversed_entry_id": invoice.id,
                "ref": _("Pix refund %(refund)s", refund=self.name),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": _(
                                "Pix refund %(refund)s of invoice %(invoice)s",
                                refund=self.name,
                                invoice=invoice.name,
                            ),
                            "account_id": income.id,
                            "quantity": 1,
                            "price_unit": self.amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        credit_note.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        ).account_id = receivable_account
        credit_note.action_post()
        return credit_note


def _format_brl(amount):
    """``R$ 1.234,50`` whatever the reader's language (a Brazilian amount)."""
    text = f"{abs(amount):,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{'-' if amount < 0 else ''}R$ {text}"


def _parse_moment(text):
    if not isinstance(text, str):
        return False
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)
