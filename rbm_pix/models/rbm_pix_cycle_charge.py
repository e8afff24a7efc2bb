"""The Pix Automático charge of one cycle (``cobr``): one per open installment of a posted
invoice of a contract paid by Pix Automático with an approved authorization.

Lifecycle
=========

Posting the invoice creates the charge in state ``to_send``; nothing is sent inside the
posting transaction. The cycle charges cron sends it within the window the rules allow
(from ``SEND_DAYS_MAX`` to ``SEND_DAYS_MIN`` calendar days before its due date), with
``PUT /cobr/{txid}`` under our own txid: sending it again after a crash finds the charge
already created and reads it back (``GET``), so the payer never gets two charges for one
installment. A variable amount above the payer's maximum, a fixed amount other than the
authorization's, or a window already past, is refused before sending, with the reason.

The PSP schedules the settlement attempt on the due date (the next business day with
``ajusteDiaUtil``). A settled charge (``CONCLUIDA``) posts one payment, reconciled with the
installment (unique end-to-end id). A failed attempt is retried (``POST
/cobr/{txid}/retentativa/{data}``) up to three times within seven days when the
authorization allows it (``PERMITE_3R_7D``); a charge rejected, expired or cancelled by the
payer leaves the installment open to the collection calendar and, when the contract says
so, to its fallback: a boleto for the installment, or a charge on the saved card.

The installment paid by other means, its amount or due date changed, the invoice reset to
draft or cancelled, or the authorization ended: the charge is cancelled at the PSP
(``PATCH`` status ``CANCELADA``, possible until the day before the first attempt).

Notifications (``/webhookcobr``) are hints: the charge they name is read back with ``GET``,
so a repeated or late notification changes nothing and a final state is never left. The
cron reads back the active charges whose attempt day came, so a missed notification is
never lost.
"""

import contextlib
import datetime
import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, mute_logger, sql

from ..engine.pix_api import (
    E2E_ID_RE,
    TXID_RE,
    PixApiError,
    PixError,
    PixRequestError,
    format_amount,
    make_txid,
)
from .rbm_pix_charge import _parse_moment

_logger = logging.getLogger(__name__)

TXID_PREFIX = "RBMR"
LIVE_STATES = ("to_send", "active", "to_cancel", "paid")
# the charge is sent from 10 to 2 calendar days before its due date (IN BCB 436/2023)
SEND_DAYS_MAX = 10
SEND_DAYS_MIN = 2
# PERMITE_3R_7D: up to 3 new attempts within 7 days of the first one
MAX_RETRIES = 3
RETRY_DAYS = 7
RETRY_POLICY = "PERMITE_3R_7D"
PENDING_ATTEMPT = ("SOLICITADA", "AGENDADA")
BATCH_SIZE = 200
# a charge whose attempt day came is read back at most this often
POLL_INTERVAL = datetime.timedelta(minutes=30)
# answers of the PSP that refuse the charge itself: it fails and the fallback takes over
REFUSED_STATUSES = (400, 422)

RECEIVER_SIDE = ("USUARIO_RECEBEDOR", "PSP_RECEBEDOR")
PSP_ENDED = {
    "REJEITADA": "failed",
    "EXPIRADA": "failed",
    "CANCELADA": "cancelled",
}


class RbmPixCycleCharge(models.Model):
    _name = "rbm.pix.cycle.charge"
    _description = "Pix Automático Cycle Charge"
    _order = "due_date desc, id desc"
    _rec_name = "txid"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    authorization_id = fields.Many2one(
        "rbm.pix.authorization",
        string="Authorization",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
    )
    id_rec = fields.Char(string="Recurrence ID (idRec)", required=True, readonly=True)
    connection_id = fields.Many2one(
        "rbm.pix.connection", string="PSP Connection", required=True, ondelete="restrict"
    )
    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        required=True,
        ondelete="restrict",
        help="The receiver's account the charge credits and the journal of its payment.",
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    contract_id = fields.Many2one("rbm.contract", string="Contract", index=True)
    move_line_id = fields.Many2one(
        "account.move.line", string="Installment", required=True, ondelete="cascade", index=True
    )
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, ondelete="cascade", index=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer")
    txid = fields.Char(string="Transaction ID", required=True, readonly=True, copy=False)
    state = fields.Selection(
        [
            ("to_send", "To Send"),
            ("active", "Scheduled"),
            ("to_cancel", "To Cancel"),
            ("paid", "Paid"),
            ("cancelled", "Cancelled"),
            ("failed", "Failed"),
        ],
        default="to_send",
        required=True,
        index=True,
    )
    psp_status = fields.Char(string="Status at the PSP", readonly=True, copy=False)
    amount = fields.Monetary(required=True)
    due_date = fields.Date(required=True)
    send_from = fields.Date(
        compute="_compute_send_window", store=True, help="First day the charge may be sent."
    )
    send_until = fields.Date(
        compute="_compute_send_window", store=True, help="Last day the charge may be sent."
    )
    attempt_date = fields.Date(
        string="Next Attempt", readonly=True, copy=False, help="Settlement attempt scheduled."
    )
    retry_count = fields.Integer(string="Retries", readonly=True, copy=False)
    polled_at = fields.Datetime(
        string="Last Read", readonly=True, copy=False, help="Last read back from the PSP."
    )
    reason = fields.Char(
        string="Reason", readonly=True, copy=False, help="Why the charge failed or ended."
    )
    fallback = fields.Selection(
        [("boleto", "Boleto issued"), ("card", "Card charge scheduled")],
        readonly=True,
        copy=False,
        help="How the installment is collected after this charge failed.",
    )
    error_message = fields.Text(string="Last Error", readonly=True, copy=False)
    end_to_end_id = fields.Char(string="End-to-End ID", readonly=True, copy=False)
    paid_amount = fields.Monetary(readonly=True, copy=False)
    paid_on = fields.Datetime(readonly=True, copy=False)
    payment_id = fields.Many2one("account.payment", readonly=True, copy=False)

    # ------------------------------------------------------------
    # SQL
    # ------------------------------------------------------------

    _sql_constraints = [
        ("txid_uniq", "unique(txid)", "A Pix transaction ID is used by one charge only."),
        (
            "end_to_end_uniq",
            "unique(end_to_end_id)",
            "A Pix payment (end-to-end ID) settles one cycle charge only.",
        ),
        ("amount_positive", "CHECK(amount > 0)", "A cycle charge has an amount above zero."),
        (
            "retry_count_range",
            f"CHECK(retry_count BETWEEN 0 AND {MAX_RETRIES})",
            "A cycle charge is retried three times at most.",
        ),
    ]

    def init(self):
        super().init()
        # one live charge per installment (a cancelled or failed one may be replaced)
        if not sql.index_exists(self.env.cr, "rbm_pix_cycle_charge_move_line_live_uniq"):
            self.env.cr.execute(
                SQL(
                    """
                    CREATE UNIQUE INDEX rbm_pix_cycle_charge_move_line_live_uniq
                        ON rbm_pix_cycle_charge (move_line_id)
                     WHERE state IN %s
                    """,
                    LIVE_STATES,
                )
            )

    @api.depends("due_date")
    def _compute_send_window(self):
        for charge in self:
            due = charge.due_date
            charge.send_from = due and due - datetime.timedelta(days=SEND_DAYS_MAX)
            charge.send_until = due and due - datetime.timedelta(days=SEND_DAYS_MIN)

    # ------------------------------------------------------------
    # CREATION
    # ------------------------------------------------------------

    @api.model
    def _create_for_moves(self, moves, installments=None):
        """Charges in state ``to_send`` for the open installments of ``moves`` (posted
        customer invoices of contracts paid by Pix Automático) that have no live charge.
        A charge that cannot be sent (no approved authorization, amount refused, window
        past) is created failed with its reason, so the fallback collects it."""
        moves = moves.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and m.currency_id.name == "BRL"
                and m.rbm_contract_id.payment_mode == "pix_automatico"
            )
        )
        if not moves:
            return self.browse()
        installments = (installments or moves.line_ids).filtered(
            lambda line: (
                line.display_type == "payment_term"
                and line.account_id.account_type == "asset_receivable"
                and not line.reconciled
                and line.amount_residual > 0
            )
        )
        if not installments:
            return self.browse()
        # an installment with a live charge, or already handed to the fallback
        charged = set(
            self.search(
                [
                    ("move_line_id", "in", installments.ids),
                    "|",
                    ("state", "in", LIVE_STATES),
                    ("fallback", "!=", False),
                ]
            ).move_line_id.ids
        )
        Account = self.env["rbm.collection.account"].sudo()
        defaults = {}
        for account in Account.search(
            [("company_id", "in", moves.company_id.ids)], order="sequence, id"
        ):
            defaults.setdefault(account.company_id, account)
        today = fields.Date.context_today(self)
        vals_list, told = [], set()
        for line in installments:
            if line.id in charged:
                continue
            move = line.move_id
            contract = move.rbm_contract_id.sudo()
            auth = contract.rbm_pix_authorization_id
            account = move._rbm_get_collection_account(defaults)
            if (not auth or auth.state != "approved" or not account) and move.id in told:
                continue
            if not auth or auth.state != "approved":
                told.add(move.id)
                move.message_post(
                    body=_(
                        "No Pix Automático charge for invoice %(invoice)s: contract "
                        "%(contract)s has no approved authorization.",
                        invoice=move.display_name,
                        contract=contract.display_name,
                    )
                )
                continue
            if not account:
                told.add(move.id)
                move.message_post(
                    body=_(
                        "No Pix Automático charge for invoice %(invoice)s: the company has no "
                        "collection account (the receiver's account of the charge).",
                        invoice=move.display_name,
                    )
                )
                continue
            vals = {
                "authorization_id": auth.id,
                "id_rec": auth.id_rec,
                "connection_id": auth.connection_id.id,
                "collection_account_id": account.id,
                "company_id": move.company_id.id,
                "contract_id": contract.id,
                "move_line_id": line.id,
                "move_id": move.id,
                "partner_id": move.commercial_partner_id.id,
                "txid": make_txid(TXID_PREFIX),
                "amount": line.amount_residual,
                "due_date": line.date_maturity or today,
            }
            refusal = self._get_refusal(auth, vals, today)
            if refusal:
                vals.update(state="failed", reason=refusal)
            vals_list.append(vals)
        charges = self._create_once(vals_list)
        failed = charges.filtered(lambda c: c.state == "failed")
        for charge in failed:
            charge._post_failure_message()
        failed._apply_fallback()
        if charges - failed:
            self.env.ref("rbm_pix.ir_cron_rbm_pix_cycle_charges")._trigger()
        return charges

    @api.model
    def _create_once(self, vals_list):
        """Create the charges in one batch; when another transaction created a live charge
        for one of the installments meanwhile (the unique index refuses the batch), one
        at a time, skipping those."""
        if not vals_list:
            return self.browse()
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                return self.create(vals_list)
        except psycopg2.errors.UniqueViolation:
            self.env.invalidate_all()
        charges = self.browse()
        for vals in vals_list:
            try:
                with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                    charges |= self.create(vals)
            except psycopg2.errors.UniqueViolation:
                self.env.invalidate_all()
                _logger.info("Cycle charge of installment %s already exists", vals["move_line_id"])
        return charges

    @api.model
    def _get_refusal(self, auth, vals, today):
        """Why a charge of ``vals`` under ``auth`` cannot be sent, in words; False."""
        currency = auth.currency_id
        amount = vals["amount"]
        if (
            auth.amount_type == "fixed"
            and auth.amount
            and currency.compare_amounts(amount, auth.amount)
        ):
            return _(
                "The amount %(amount)s differs from the fixed amount %(fixed)s of the Pix "
                "Automático authorization %(auth)s (field Amount).",
                amount=_format_brl(amount),
                fixed=_format_brl(auth.amount),
                auth=auth.display_name,
            )
        if (
            auth.amount_type == "variable"
            and auth.payer_max_amount
            and currency.compare_amounts(amount, auth.payer_max_amount) > 0
        ):
            return _(
                "The amount %(amount)s is above the maximum of %(maximum)s the payer set in "
                "the Pix Automático authorization %(auth)s (field Payer's Maximum).",
                amount=_format_brl(amount),
                maximum=_format_brl(auth.payer_max_amount),
                auth=auth.display_name,
            )
        due = vals["due_date"]
        if (due - today).days < SEND_DAYS_MIN:
            return _(
                "The due date %(due)s is less than %(days)s days away: a Pix Automático "
                "charge must be sent from %(max)s to %(days)s days before it (field Due "
                "Date of the installment).",
                due=due.strftime("%d/%m/%Y"),
                days=SEND_DAYS_MIN,
                max=SEND_DAYS_MAX,
            )
        if auth.start_date and due < auth.start_date or auth.end_date and due > auth.end_date:
            return _(
                "The due date %(due)s is outside the period of the Pix Automático "
                "authorization %(auth)s.",
                due=due.strftime("%d/%m/%Y"),
                auth=auth.display_name,
            )
        return False

    # ------------------------------------------------------------
    # WHAT IS SENT
    # ------------------------------------------------------------

    def _prepare_body(self):
        """The body of ``PUT /cobr/{txid}``: the payer comes from the recurrence."""
        self.ensure_one()
        account = self.collection_account_id
        conta = "".join(filter(str.isdigit, (account.account_number or "")))
        conta += "".join(filter(str.isdigit, (account.account_digit or "")))
        recebedor = {"conta": conta[:20], "tipoConta": "CORRENTE"}
        agencia = "".join(filter(str.isdigit, account.branch or ""))
        if agencia:
            recebedor["agencia"] = agencia[:4]
        return {
            "idRec": self.id_rec,
            "infoAdicional": _("Invoice %(invoice)s", invoice=self.move_id.name)[:140],
            "calendario": {"dataDeVencimento": self.due_date.isoformat()},
            "valor": {"original": format_amount(self.amount)},
            "ajusteDiaUtil": True,
            "recebedor": recebedor,
        }

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        self._process_pending(auto_commit=True)

    @api.model
    def _process_pending(self, auto_commit=False, batch_size=BATCH_SIZE):
        """Cancel what must be cancelled, send what is in its window, and read back the
        charges whose attempt day came (payments or failures whose notification was
        missed). Each step handles ``batch_size`` charges at most per run."""
        today = fields.Date.context_today(self)
        self._mark_to_cancel()
        steps = (
            ("_remove", [("state", "=", "to_cancel")]),
            (
                "_send",
                [
                    ("state", "=", "to_send"),
                    ("send_from", "<=", today),
                ],
            ),
            (
                "_poll",
                [
                    ("state", "=", "active"),
                    "|",
                    ("attempt_date", "=", False),
                    ("attempt_date", "<=", today),
                    "|",
                    ("polled_at", "=", False),
                    ("polled_at", "<", fields.Datetime.now() - POLL_INTERVAL),
                ],
            ),
        )
        more = False
        Connection = self.env["rbm.pix.connection"]
        with Connection._client_pool() as pool:
            for method, domain in steps:
                batch = self.search(domain, order="id", limit=batch_size)
                more = more or len(batch) == batch_size
                Connection._run_grouped(batch, method, auto_commit, pool)
        if more and auto_commit:
            # a full batch: the next one right after
            self.env.ref("rbm_pix.ir_cron_rbm_pix_cycle_charges")._trigger()

    def _run(self, method, auto_commit, client=None):
        """Call ``method`` with the connection's client; an error is kept on the charge
        in words (refused by the PSP when sending: the charge fails and the fallback
        takes over; the PSP unreachable: kept for the next run)."""
        self.ensure_one()
        connection = self.connection_id
        try:
            with (
                self.env.cr.savepoint(),
                contextlib.nullcontext(client) if client else connection._get_client() as client,
            ):
                getattr(self, method)(client)
        except PixError as error:
            message = connection._get_pix_error_message(error)
            # the PSP refused this charge (not our credentials, not an outage)
            refused = isinstance(error, PixApiError) and error.status in REFUSED_STATUSES
            if refused and self.state == "to_send":
                self._fail(message)
            else:
                self.write({"error_message": message})
            _logger.info("Pix cycle charge %s: %s failed: %s", self.txid, method, error)
        except UserError as error:
            self.write({"error_message": error.args[0]})
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _send(self, client):
        """``PUT`` the charge under our txid; when the PSP answers that the txid is in
        use (sent before a crash), read it back."""
        self.ensure_one()
        if self.state != "to_send":
            return
        try:
            answer = client.put_cobr(self.txid, self._prepare_body())
        except PixRequestError:
            raise
        except PixApiError as error:
            if error.status is None or error.status >= 500:
                raise
            try:
                answer = client.get_cobr(self.txid)
            except PixApiError:
                raise error from None
            if answer.get("idRec") != self.id_rec:
                raise error from None
        self._apply_answer(answer, client)

    def _remove(self, client):
        """``PATCH`` status ``CANCELADA``; a charge the PSP does not know was never sent;
        one it no longer lets us cancel is read back (it may be paid)."""
        self.ensure_one()
        try:
            answer = client.cancel_cobr(self.txid)
        except PixApiError as error:
            if error.status == 404:
                self.write({"state": "cancelled", "psp_status": False, "error_message": False})
                self._recreate()
                return
            if error.status is None or error.status >= 500:
                raise
            answer = client.get_cobr(self.txid)
            if answer.get("status") in ("CRIADA", "ATIVA"):
                # from the first attempt's day on the charge can no longer be cancelled
                self.write({"state": "active"})
                self._apply_answer(answer, client)
                self.error_message = self.connection_id._get_pix_error_message(error)
                return
        self._apply_answer(answer, client)
        if self.state == "cancelled":
            self._recreate()

    def _poll(self, client):
        self.ensure_one()
        self.polled_at = fields.Datetime.now()
        self._apply_answer(client.get_cobr(self.txid), client)

    def _apply_answer(self, answer, client=None):
        """Store what the PSP answered of the charge: its status, the attempt scheduled,
        a settlement (once per end-to-end id), a failed attempt retried when the policy
        allows, the end of the charge. A final state is never left."""
        self.ensure_one()
        answer = answer if isinstance(answer, dict) else {}
        # one at a time per charge (a notification and the cron at once)
        self.env.cr.execute(
            SQL("SELECT id FROM rbm_pix_cycle_charge WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset()
        status = answer.get("status")
        attempts = [a for a in answer.get("tentativas") or [] if isinstance(a, dict)]
        pending = [a for a in attempts if a.get("status") in PENDING_ATTEMPT]
        values = {"error_message": False}
        if isinstance(status, str):
            values["psp_status"] = status
        if pending:
            values["attempt_date"] = _parse_date(pending[-1].get("dataLiquidacao"))
        retries = sum(1 for a in attempts if a.get("tipo") == "NTAG")
        if retries > self.retry_count:
            values["retry_count"] = min(retries, MAX_RETRIES)
        if self.state in ("to_send", "active") and status in ("CRIADA", "ATIVA"):
            values["state"] = "active"
        self.write(values)
        if status == "CONCLUIDA" or answer.get("pix"):
            self._apply_payments(answer.get("pix") or [])
        if self.state in ("paid", "cancelled", "failed"):
            return
        if status in PSP_ENDED:
            self._end(status, answer.get("encerramento") or {}, attempts)
        elif status == "ATIVA" and attempts and not pending:
            self._retry_or_fail(client, attempts)

    def _retry_or_fail(self, client, attempts):
        """The last attempt failed and none is scheduled: ask for a new one (the next
        day, within 7 days of the first) when the policy allows it; otherwise the charge
        fails and the installment goes to the fallback."""
        self.ensure_one()
        first = _parse_date(attempts[0].get("dataLiquidacao")) or self.due_date
        today = fields.Date.context_today(self)
        when = today + datetime.timedelta(days=1)
        reason = _attempt_reason(attempts[-1])
        allowed = (
            self.authorization_id.retry_policy == RETRY_POLICY
            and self.id_rec[1:2] == "R"
            and self.retry_count < MAX_RETRIES
            and when <= first + datetime.timedelta(days=RETRY_DAYS)
        )
        if not allowed or client is None:
            if allowed:
                return  # a notification only: the cron asks for the retry
            self._fail(
                _(
                    "Settlement attempt refused (%(reason)s) and no retry is possible any more.",
                    reason=reason,
                )
            )
            return
        answer = client.retry_cobr(self.txid, when.isoformat())
        self.write({"retry_count": self.retry_count + 1})
        self.move_id.message_post(
            body=_(
                "Pix Automático charge %(txid)s: attempt refused (%(reason)s); new attempt "
                "%(count)s of %(max)s on %(date)s.",
                txid=self.txid,
                reason=reason,
                count=self.retry_count,
                max=MAX_RETRIES,
                date=when.strftime("%d/%m/%Y"),
            )
        )
        self._apply_answer(answer, client)

    def _end(self, status, closing, attempts):
        """The PSP ended the charge: cancelled (by us or by the payer), rejected or
        expired. The installment stays open; the payer's cancellation, a rejection and
        an expiry go to the fallback."""
        self.ensure_one()
        closing = closing if isinstance(closing, dict) else {}
        if status == "CANCELADA":
            cancel = closing.get("cancelamento")
            cancel = cancel if isinstance(cancel, dict) else {}
            # cancelled because we asked (the receiver): no fallback
            asked = self.state == "to_cancel" or cancel.get("solicitante") in RECEIVER_SIDE
            reason = _(
                "cancelled by the %(who)s (%(detail)s)",
                who=_("receiver") if asked else _("payer"),
                detail=_attempt_reason(
                    {
                        "rejeicao": {
                            "codigo": cancel.get("codigo"),
                            "descricao": cancel.get("descricao"),
                        }
                    }
                ),
            )
            self.write({"state": "cancelled", "reason": reason})
            if not asked:
                self._post_failure_message()
                self._apply_fallback()
            return
        if status == "REJEITADA":
            reject = closing.get("rejeicao")
            detail = reject if isinstance(reject, dict) else (attempts[-1] if attempts else {})
            reason = _("rejected: %(reason)s", reason=_attempt_reason(detail))
        elif status == "EXPIRADA":
            reason = _("expired without a settled attempt")
        else:
            reason = _("ended at the PSP (%(status)s)", status=status)
        self._fail(reason)

    def _fail(self, reason):
        """The charges fail with ``reason``: the installment goes to the collection
        calendar and the contract's fallback."""
        charges = self.filtered(lambda c: c.state in ("to_send", "active"))
        if not charges:
            return
        charges.write({"state": "failed", "reason": reason})
        for charge in charges:
            charge._post_failure_message()
        charges._apply_fallback()

    def _post_failure_message(self):
        self.ensure_one()
        self.move_id.message_post(
            body=_(
                "Pix Automático charge %(txid)s of %(amount)s due on %(due)s was not "
                "collected: %(reason)s. The installment stays open.",
                txid=self.txid,
                amount=_format_brl(self.amount),
                due=self.due_date.strftime("%d/%m/%Y"),
                reason=(self.reason or "").rstrip("."),
            )
        )

    # ------------------------------------------------------------
    # FALLBACK
    # ------------------------------------------------------------

    def _apply_fallback(self):
        """The contract's fallback for the installments of failed charges: a boleto, or
        a charge on the saved card (by the card run, after this transaction commits)."""
        Boleto = self.env["rbm.boleto"].sudo()
        by_account = {}
        card_moves = self.env["account.move"]
        for charge in self:
            line = charge.move_line_id
            if line.reconciled or charge.move_id.state != "posted" or charge.fallback:
                continue
            mode = charge.contract_id.rbm_pix_fallback
            if mode == "boleto":
                by_account.setdefault(charge.collection_account_id.sudo(), self.browse())
                by_account[charge.collection_account_id.sudo()] |= charge
            elif mode == "card":
                card_moves |= charge.move_id
                charge.fallback = "card"
        if by_account:
            lines = {account: charges.move_line_id for account, charges in by_account.items()}
            boletos = Boleto._issue_for_lines(lines)
            for account, charges in by_account.items():
                charges.fallback = "boleto"
                moves = charges.move_id.filtered(lambda m: not m.rbm_collection_account_id)
                moves.sudo().rbm_collection_account_id = account
            boletos.move_id._rbm_reset_boleto_pdf()
            for charges in by_account.values():
                for charge in charges:
                    boleto = boletos.filtered(lambda b, c=charge: b.move_line_id == c.move_line_id)
                    if not boleto:
                        continue
                    charge.move_id.message_post(
                        body=_(
                            "Fallback of the contract: boleto %(number)s issued for the "
                            "installment of %(amount)s.",
                            number=boleto[:1].display_name,
                            amount=_format_brl(charge.move_line_id.amount_residual),
                        )
                    )
        if card_moves:
            card_moves.sudo().rbm_card_charge_due = True
            for move in card_moves:
                move.message_post(
                    body=_(
                        "Fallback of the contract: the saved card will be charged for the "
                        "amount due."
                    )
                )
            self.env.ref("rbm_dunning.ir_cron_rbm_card_retries")._trigger()

    # ------------------------------------------------------------
    # CANCELLING
    # ------------------------------------------------------------

    @api.model
    def _mark_to_cancel(self):
        """Charges to cancel at the PSP: the installment paid by other means, its amount
        or due date changed, the invoice no longer posted, or the authorization ended."""
        today = fields.Date.context_today(self)
        self.env.flush_all()
        # set-based: the charges still live that may be cancelled (no attempt yet, the
        # first attempt's day not come: from then on the PSP no longer cancels them) and
        # whose installment was paid otherwise, changed (``_get_changes``: amount left to
        # pay, in the company currency's rounding, or due date), whose invoice is no
        # longer posted, or whose authorization ended
        self.env.cr.execute(
            SQL(
                """
                SELECT c.id
                  FROM rbm_pix_cycle_charge c
                  JOIN account_move_line l ON l.id = c.move_line_id
                  JOIN account_move m ON m.id = c.move_id
                  JOIN res_company co ON co.id = c.company_id
                  JOIN res_currency cur ON cur.id = co.currency_id
             LEFT JOIN rbm_pix_authorization a ON a.id = c.authorization_id
                 WHERE c.state IN ('to_send', 'active')
                   AND COALESCE(c.retry_count, 0) = 0
                   AND (c.attempt_date IS NULL OR c.attempt_date > %(today)s)
                   AND (
                        l.reconciled
                        OR m.state != 'posted'
                        OR a.state IS DISTINCT FROM 'approved'
                        OR ROUND((l.amount_residual - c.amount) / cur.rounding) != 0
                        OR (l.date_maturity IS NOT NULL AND l.date_maturity != c.due_date)
                   )
                 ORDER BY c.id
                """,
                today=today,
            )
        )
        closed = self.browse([row[0] for row in self.env.cr.fetchall()])
        if closed:
            closed._cancel()

    def _get_changes(self):
        """Whether the installment changed since the charge was made (amount left to pay
        or due date)."""
        self.ensure_one()
        line = self.move_line_id
        return bool(
            self.currency_id.compare_amounts(line.amount_residual, self.amount)
            or (line.date_maturity and line.date_maturity != self.due_date)
        )

    def _cancel(self):
        """Cancel these charges at the PSP (the cron does it)."""
        live = self.filtered(lambda c: c.state in ("to_send", "active"))
        if live:
            live.write({"state": "to_cancel"})
            self.env.ref("rbm_pix.ir_cron_rbm_pix_cycle_charges")._trigger()
        return live

    def _recreate(self):
        """A charge cancelled because its installment changed: a new one for what is
        left to pay, when the installment is still open and the authorization approved."""
        self.ensure_one()
        move = self.move_id
        if (
            move.state == "posted"
            and not self.move_line_id.reconciled
            and self.authorization_id.state == "approved"
            and self.move_line_id.amount_residual > 0
        ):
            self._create_for_moves(move, self.move_line_id)

    # ------------------------------------------------------------
    # SETTLEMENT
    # ------------------------------------------------------------

    def _apply_payments(self, items):
        """Post and reconcile the payment of ``items`` not applied yet (by end-to-end
        id). Returns the charge when a payment was applied now."""
        self.ensure_one()
        for item in items:
            if not isinstance(item, dict):
                continue
            e2e = item.get("endToEndId")
            valor = item.get("valor")
            if not isinstance(e2e, str) or not E2E_ID_RE.fullmatch(e2e):
                continue
            if not isinstance(valor, str):
                continue
            if self.end_to_end_id or self.search_count([("end_to_end_id", "=", e2e)]):
                continue
            self._post_payment(e2e, item)
            return self
        return self.browse()

    def _post_payment(self, e2e, item):
        self.ensure_one()
        move = self.move_id
        account = self.collection_account_id
        if not account.journal_id:
            raise UserError(
                _(
                    "Pix Automático charge %(txid)s of invoice %(invoice)s was paid but the "
                    "collection account %(account)s has no journal to post the payment in.",
                    txid=self.txid,
                    invoice=move.display_name,
                    account=account.display_name,
                )
            )
        amount = float(item["valor"])
        paid_on = _parse_moment(item.get("horario")) or fields.Datetime.now()
        mixin = self.env["rbm.bank.file.mixin"]
        memo = _("Pix Automático %(e2e)s (transaction ID %(txid)s)", e2e=e2e, txid=self.txid)
        vals = mixin._prepare_installment_payment_vals(
            account,
            move,
            self.move_line_id,
            move.commercial_partner_id,
            amount,
            paid_on.date(),
            memo,
        )
        # the end-to-end id first: a second settlement of the same payment stops here
        self.write(
            {
                "end_to_end_id": e2e,
                "paid_amount": amount,
                "paid_on": paid_on,
                "state": "paid",
                "attempt_date": False,
                "error_message": False,
            }
        )
        self.flush_recordset()
        [(payment, reconciled)] = mixin._pay_installments(self.move_line_id, [vals])
        self.payment_id = payment
        # a Pix payment like any other: refundable from the back office
        payment._rbm_pix_mark_received(e2e, self.connection_id)
        message = (
            _(
                "Pix Automático payment %(e2e)s of %(amount)s received: reconciled with the "
                "installment.",
                e2e=e2e,
                amount=_format_brl(amount),
            )
            if reconciled
            else _(
                "Pix Automático payment %(e2e)s of %(amount)s received: the installment was "
                "no longer open, the payment stays as the customer's credit.",
                e2e=e2e,
                amount=_format_brl(amount),
            )
        )
        move.message_post(body=message)

    # ------------------------------------------------------------
    # NOTIFICATIONS
    # ------------------------------------------------------------

    @api.model
    def _check_notification_item(self, item):
        """Whether ``item`` of a ``/cobr`` notification names a charge we can read."""
        return (
            isinstance(item, dict)
            and isinstance(item.get("txid"), str)
            and bool(TXID_RE.fullmatch(item["txid"]))
        )

    @api.model
    def _apply_notifications(self, connection, items):
        """Read back (``GET``) the charges a notification names: the notification is a
        hint, what the PSP answers now is what counts. Returns the charges read."""
        txids = {item["txid"] for item in items}
        charges = self.search(
            [("txid", "in", list(txids)), ("connection_id", "=", connection.id)], order="id"
        )
        for charge in charges:
            if charge.state in ("to_send", "active", "to_cancel"):
                charge._run("_poll", auto_commit=False)
        return charges

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_refresh(self):
        """Read the charges back from the PSP now (button)."""
        self.check_access("read")
        for charge in self.sudo():
            if charge.state in ("active", "to_cancel"):
                charge._run("_poll", auto_commit=False)
        return True


def _parse_date(text):
    if not isinstance(text, str):
        return False
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        return False


def _attempt_reason(attempt):
    """``code description`` of a rejected attempt (or rejection), in the PSP's words."""
    reject = attempt.get("rejeicao") if isinstance(attempt, dict) else None
    reject = reject if isinstance(reject, dict) else attempt if isinstance(attempt, dict) else {}
    code = reject.get("codigo")
    text = reject.get("descricao")
    parts = [p for p in (code, text) if isinstance(p, str) and p]
    return " ".join(parts) or _("no reason given")


def _format_brl(amount):
    """``R$ 1.234,56``."""
    text = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"R$ {text}"
