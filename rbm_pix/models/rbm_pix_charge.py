"""A dynamic Pix charge (``cobv``, or ``cob``) for one open installment of an invoice.

Lifecycle
=========

Posting the invoice creates the charge in state ``to_send``; nothing is sent inside the
posting transaction. The charges cron sends it (``PUT /cobv/{txid}`` under our own txid,
idempotent: sending it again after a crash answers the same charge), then the invoice's Pix
copy-and-paste becomes the charge's. Resetting the invoice to draft or cancelling it, or the
installment being paid by other means, marks the charge ``to_cancel``: the cron asks the PSP
to remove it (``PATCH`` with status ``REMOVIDA_PELO_USUARIO_RECEBEDOR``). A partial
payment by other means, or a new due date of the installment, changes the charge
(``PATCH`` of its amount and due date).

Settlement
==========

A payment is applied once, by its end-to-end id (unique in the database), whether it came
from the PSP's notification or from the cron that reads the charges still active from their
due date on (a missed notification is never lost). Each payment posts one ``account.payment``
on the collection account's journal, reconciled with the installment when it is still open
(``rbm.bank.file.mixin._pay_installments``).
"""

import contextlib
import datetime
import logging
import re

from markupsafe import escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, sql

from ..engine.pix_api import (
    E2E_ID_RE,
    PixApiError,
    PixError,
    PixRequestError,
    format_amount,
    make_txid,
)

_logger = logging.getLogger(__name__)

TXID_PREFIX = "RBMV"
LIVE_STATES = ("to_send", "active", "to_cancel", "paid")
REMOVED_STATUS = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
# juros "percentual ao mês (dias corridos)", multa and desconto "percentual" (Pix API)
INTEREST_MONTHLY_PERCENT = 3
FINE_PERCENT = 2
DISCOUNT_PERCENT_UNTIL_DATE = 2
# days a charge is read back from the PSP after its due date when no notification came
POLL_DAYS_AFTER_VALIDITY = 1


class RbmPixCharge(models.Model):
    _name = "rbm.pix.charge"
    _description = "Dynamic Pix Charge"
    _order = "due_date desc, id desc"
    _rec_name = "txid"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    connection_id = fields.Many2one(
        "rbm.pix.connection", string="PSP Connection", required=True, ondelete="restrict"
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    move_line_id = fields.Many2one(
        "account.move.line",
        string="Installment",
        required=True,
        ondelete="cascade",
        index=True,
    )
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, ondelete="cascade", index=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer")
    txid = fields.Char(string="Transaction ID", required=True, readonly=True, copy=False)
    kind = fields.Selection(
        [("cobv", "Due-date charge (cobv)"), ("cob", "Immediate charge (cob)")],
        required=True,
        default="cobv",
    )
    state = fields.Selection(
        [
            ("to_send", "To Send"),
            ("active", "Active"),
            ("to_cancel", "To Cancel"),
            ("paid", "Paid"),
            ("cancelled", "Cancelled"),
            ("failed", "Failed"),
        ],
        default="to_send",
        required=True,
        index=True,
    )
    amount = fields.Monetary(required=True)
    due_date = fields.Date(required=True)
    validity_days = fields.Integer(
        string="Validity After Due Date (days)",
        help="Days after the due date the charge can still be paid (validadeAposVencimento).",
    )
    fine_rate = fields.Float(string="Fine (%)", digits=(5, 2))
    interest_rate = fields.Float(string="Interest (% a month)", digits=(5, 4))
    discount_rate = fields.Float(string="Discount (%)", digits=(5, 2))
    discount_date = fields.Date(help="The discount applies to payments up to this date.")
    location = fields.Char(readonly=True, copy=False)
    pix_copy_paste = fields.Char(string="Pix Copy and Paste", readonly=True, copy=False)
    revision = fields.Integer(readonly=True, copy=False)
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
            "A Pix payment (end-to-end ID) settles one charge only.",
        ),
    ]

    def init(self):
        super().init()
        # one live charge per installment (a removed or refused one may be replaced)
        if not sql.index_exists(self.env.cr, "rbm_pix_charge_move_line_live_uniq"):
            self.env.cr.execute(
                SQL(
                    """
                    CREATE UNIQUE INDEX rbm_pix_charge_move_line_live_uniq
                        ON rbm_pix_charge (move_line_id)
                     WHERE state IN %s
                    """,
                    LIVE_STATES,
                )
            )

    # ------------------------------------------------------------
    # CREATION
    # ------------------------------------------------------------

    @api.model
    def _create_for_installments(self, connection, installments):
        """Charges in state ``to_send`` for ``installments`` (open receivable lines of
        posted invoices) that have no live charge yet."""
        if not installments:
            return self.browse()
        charged = set(
            self.search(
                [("move_line_id", "in", installments.ids), ("state", "in", LIVE_STATES)]
            ).move_line_id.ids
        )
        today = fields.Date.context_today(self)
        vals_list = []
        for line in installments:
            if line.id in charged:
                continue
            move = line.move_id
            account = move.rbm_collection_account_id
            due = max(line.date_maturity or today, today)
            vals = {
                "connection_id": connection.id,
                "company_id": move.company_id.id,
                "move_line_id": line.id,
                "move_id": move.id,
                "partner_id": move.commercial_partner_id.id,
                "txid": make_txid(TXID_PREFIX),
                "kind": "cobv" if _payer_document(move.commercial_partner_id) else "cob",
                "amount": line.amount_residual,
                "due_date": due,
                "validity_days": connection.validity_days,
            }
            if account:
                vals.update(fine_rate=account.fine_rate, interest_rate=account.interest_rate)
                discount_date = due - datetime.timedelta(days=account.discount_days)
                if account.discount_rate and discount_date >= today:
                    vals.update(discount_rate=account.discount_rate, discount_date=discount_date)
            vals_list.append(vals)
        charges = self.create(vals_list)
        if charges:
            self.env.ref("rbm_pix.ir_cron_rbm_pix_charges")._trigger()
        return charges

    # ------------------------------------------------------------
    # WHAT IS SENT
    # ------------------------------------------------------------

    def _prepare_body(self):
        """The body of ``PUT /cobv/{txid}`` (or ``/cob/{txid}``)."""
        self.ensure_one()
        body = {
            "chave": self.connection_id.pix_key,
            "valor": {"original": format_amount(self.amount)},
            "solicitacaoPagador": _("Invoice %(invoice)s", invoice=self.move_id.name)[:140],
        }
        if self.kind == "cob":
            last_day = self.due_date + datetime.timedelta(days=self.validity_days)
            end = datetime.datetime.combine(last_day, datetime.time.max)
            body["calendario"] = {
                "expiracao": max(int((end - datetime.datetime.now()).total_seconds()), 1)
            }
            return body
        body["calendario"] = {
            "dataDeVencimento": self.due_date.isoformat(),
            "validadeAposVencimento": self.validity_days,
        }
        partner = self.partner_id
        kind, number = _payer_document(partner)
        body["devedor"] = {kind: number, "nome": (partner.name or "")[:200]}
        if self.fine_rate:
            body["valor"]["multa"] = {
                "modalidade": FINE_PERCENT,
                "valorPerc": format_amount(self.fine_rate),
            }
        if self.interest_rate:
            body["valor"]["juros"] = {
                "modalidade": INTEREST_MONTHLY_PERCENT,
                "valorPerc": format_amount(self.interest_rate),
            }
        if self.discount_rate and self.discount_date:
            body["valor"]["desconto"] = {
                "modalidade": DISCOUNT_PERCENT_UNTIL_DATE,
                "descontoDataFixa": [
                    {
                        "data": self.discount_date.isoformat(),
                        "valorPerc": format_amount(self.discount_rate),
                    }
                ],
            }
        return body

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        self._process_pending(auto_commit=True)

    @api.model
    def _process_pending(self, auto_commit=False):
        """Send what is to send, remove what is to cancel, and read back the charges
        still active from their due date on (payments whose notification was missed)."""
        self._mark_paid_otherwise()
        today = fields.Date.context_today(self)
        Connection = self.env["rbm.pix.connection"]
        with Connection._client_pool() as pool:
            for state, method in (("to_send", "_send"), ("to_cancel", "_remove")):
                records = self.search([("state", "=", state)], order="id")
                Connection._run_grouped(records, method, auto_commit, pool)
            changed = self._search_changed()
            Connection._run_grouped(changed, "_update", auto_commit, pool)
            overdue = self.search([("state", "=", "active"), ("due_date", "<=", today)], order="id")
            Connection._run_grouped(overdue, "_poll", auto_commit, pool)

    def _run(self, method, auto_commit, client=None):
        """Call ``method`` on the charge with the connection's client; an error is kept on
        the charge in words (failed when the PSP refused it, kept for the next run when
        it could not be reached)."""
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
            refused = isinstance(error, PixApiError) and (error.status or 0) < 500
            values = {"error_message": message}
            if refused and self.state == "to_send":
                values["state"] = "failed"
            self.write(values)
            _logger.info("Pix charge %s: %s failed: %s", self.txid, method, error)
        except UserError as error:
            self.write({"error_message": error.args[0]})
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _send(self, client):
        """``PUT`` the charge under our txid; when the PSP refuses it because it already
        exists (sent before a crash, and perhaps paid since), read it back."""
        self.ensure_one()
        put = client.put_cobv if self.kind == "cobv" else client.put_cob
        get = client.get_cobv if self.kind == "cobv" else client.get_cob
        try:
            answer = put(self.txid, self._prepare_body())
        except PixRequestError:
            raise
        except PixApiError as error:
            if error.status is None or error.status >= 500:
                raise
            try:
                answer = get(self.txid)
            except PixApiError:
                raise error from None
        self._apply_answer(answer)

    def _remove(self, client):
        """``PATCH`` status ``REMOVIDA_PELO_USUARIO_RECEBEDOR``; a charge the PSP no
        longer has as active is read back (it may have been paid)."""
        self.ensure_one()
        patch = client.patch_cobv if self.kind == "cobv" else client.patch_cob
        get = client.get_cobv if self.kind == "cobv" else client.get_cob
        try:
            answer = patch(self.txid, {"status": REMOVED_STATUS})
        except PixApiError as error:
            if error.status == 404:
                self.write({"state": "cancelled", "error_message": False})
                return
            if error.status is None or error.status >= 500:
                raise
            answer = get(self.txid)
        self._apply_answer(answer)

    def _poll(self, client):
        self.ensure_one()
        get = client.get_cobv if self.kind == "cobv" else client.get_cob
        self._apply_answer(get(self.txid))

    def _apply_answer(self, answer):
        """Store what the PSP answered of the charge (status, location, copy-and-paste,
        payments)."""
        self.ensure_one()
        answer = answer or {}
        status = answer.get("status")
        values = {"error_message": False}
        location = (answer.get("loc") or {}).get("location") or answer.get("location")
        if location:
            values["location"] = location
        if answer.get("pixCopiaECola"):
            values["pix_copy_paste"] = answer["pixCopiaECola"]
        if isinstance(answer.get("revisao"), int):
            values["revision"] = answer["revisao"]
        if status == "ATIVA":
            values["state"] = "to_cancel" if self.state == "to_cancel" else "active"
        elif status in (REMOVED_STATUS, "REMOVIDA_PELO_PSP"):
            values["state"] = "cancelled"
        self.write(values)
        if status == "CONCLUIDA" or answer.get("pix"):
            self._apply_payments(answer.get("pix") or [])
        if self.state == "active":
            self.move_id._rbm_show_pix_charge()
        elif self.state == "cancelled":
            self.move_id._rbm_restore_static_pix()
        if self.state in ("active", "cancelled"):
            self._get_boletos()._rbm_refresh_pix_payload()

    # ------------------------------------------------------------
    # SETTLEMENT
    # ------------------------------------------------------------

    @api.model
    def _apply_notifications(self, connection, items):
        """Apply the payments of a notification (``{"pix": [...]}`` items already
        checked by ``_check_notification_item``): each one once, all of them
        settled together (``_settle``). Returns the charges that were paid now."""
        # the refunds' statuses come in the same notification (``devolucoes``)
        self.env["rbm.pix.refund"]._apply_notifications(connection, items)
        txids = {item.get("txid") for item in items if isinstance(item.get("txid"), str)}
        if not txids:
            return self.browse()
        charges = self.search(
            [("txid", "in", list(txids)), ("connection_id", "=", connection.id)], order="id"
        )
        by_txid = {charge.txid: charge for charge in charges}
        pairs = [(by_txid[item["txid"]], item) for item in items if item.get("txid") in by_txid]
        try:
            with self.env.cr.savepoint():
                return charges._settle(pairs)
        except UserError:
            pass
        # a payment that cannot be posted (e.g. its invoice has no collection account)
        # must not hold back the others: each one on its own, the refusal kept on its
        # charge in words, where the cron's read-back applies it once it is fixed
        paid = self.browse()
        for charge, item in pairs:
            try:
                with self.env.cr.savepoint():
                    paid |= charge._settle([(charge, item)])
            except UserError as error:
                charge.error_message = error.args[0]
                _logger.warning(
                    "Pix charge %s: payment %s not applied: %s",
                    charge.txid,
                    item.get("endToEndId"),
                    error.args[0],
                )
        return paid

    @api.model
    def _check_notification_item(self, item):
        """Whether ``item`` of a notification is a payment we can read."""
        if not isinstance(item, dict):
            return False
        e2e, valor = item.get("endToEndId"), item.get("valor")
        if not isinstance(e2e, str) or not E2E_ID_RE.fullmatch(e2e):
            return False
        if item.get("txid") is not None and not isinstance(item.get("txid"), str):
            return False
        return isinstance(valor, str) and bool(re.fullmatch(r"\d{1,10}\.\d{2}", valor))

    def _apply_payments(self, items):
        """Post and reconcile the payments in ``items`` not applied yet (by end-to-end
        id). Returns the charge when a payment was applied now."""
        self.ensure_one()
        return self._settle([(self, item) for item in items])

    def _settle(self, pairs):
        """Apply the payments of ``pairs`` (``[(charge, item)]``, charges of ``self``)
        in order, each once by its end-to-end id, a charge paid once: the charges are
        locked together, the end-to-end ids already applied read with one query, and
        the payments posted and reconciled with one ``_pay_installments`` call. Returns
        the charges paid now."""
        if not self or not pairs:
            return self.browse()
        # one settlement at a time per charge (a notification and the cron at once);
        # locked in the order of their ids, so two settlements never wait on each other
        self.env.cr.execute(
            SQL(
                "SELECT id FROM rbm_pix_charge WHERE id IN %s ORDER BY id FOR UPDATE",
                tuple(self.ids),
            )
        )
        self.invalidate_recordset()
        pairs = [
            (charge, item, item.get("endToEndId"))
            for charge, item in pairs
            if isinstance(item.get("endToEndId"), str) and E2E_ID_RE.fullmatch(item["endToEndId"])
        ]
        if not pairs:
            return self.browse()
        # the unique index on end_to_end_id stays the guard; this only avoids its error
        used = set(
            self.search_fetch(
                [("end_to_end_id", "in", list({e2e for _charge, _item, e2e in pairs}))],
                ["end_to_end_id"],
            ).mapped("end_to_end_id")
        )
        settled, todo = {}, []
        for charge, item, e2e in pairs:
            paid_by = charge.end_to_end_id or settled.get(charge.id)
            if paid_by or e2e in used:
                if paid_by != e2e:
                    _logger.warning(
                        "Pix charge %s: payment %s not applied, the charge was paid by %s",
                        charge.txid,
                        e2e,
                        paid_by,
                    )
                continue
            settled[charge.id] = e2e
            used.add(e2e)
            todo.append((charge, item, e2e))
        if not todo:
            return self.browse()
        return self._post_payments(todo)

    def _post_payments(self, todo):
        """Post and reconcile one payment per ``(charge, item, end-to-end id)`` of
        ``todo`` (each charge once), with one chatter message per payment on the
        invoice. Returns the charges paid."""
        mixin = self.env["rbm.bank.file.mixin"]
        lines, vals_list, paid = [], [], self.browse()
        for charge, item, e2e in todo:
            move = charge.move_id
            account = move.rbm_collection_account_id
            if not account or not account.journal_id:
                raise UserError(
                    _(
                        "Pix charge %(txid)s of invoice %(invoice)s was paid but the invoice "
                        "has no collection account with a journal to post the payment in.",
                        txid=charge.txid,
                        invoice=move.display_name,
                    )
                )
            amount = float(item["valor"])
            paid_on = _parse_moment(item.get("horario")) or fields.Datetime.now()
            memo = _("Pix %(e2e)s (transaction ID %(txid)s)", e2e=e2e, txid=charge.txid)
            vals = mixin._prepare_installment_payment_vals(
                account,
                move,
                charge.move_line_id,
                move.commercial_partner_id,
                amount,
                paid_on.date(),
                memo,
            )
            # a Pix payment: refundable from the back office (``_rbm_pix_mark_received``)
            vals["rbm_pix_end_to_end_id"] = e2e
            vals["rbm_pix_connection_id"] = charge.connection_id.id
            vals_list.append(vals)
            lines.append(charge.move_line_id)
            # the end-to-end id first: a second settlement of the same payment stops here
            charge.write(
                {
                    "end_to_end_id": e2e,
                    "paid_amount": amount,
                    "paid_on": paid_on,
                    "state": "paid",
                    "error_message": False,
                }
            )
            paid |= charge
        paid.flush_recordset()
        results = mixin._pay_installments(lines, vals_list)
        # one message per payment; an invoice named twice gets its messages in rounds
        rounds = []
        for (charge, _item, e2e), (payment, reconciled) in zip(todo, results, strict=True):
            charge.payment_id = payment
            message = (
                _("Pix payment %(e2e)s received: reconciled with the installment.", e2e=e2e)
                if reconciled
                else _(
                    "Pix payment %(e2e)s received: the installment was no longer open, the "
                    "payment stays as the customer's credit.",
                    e2e=e2e,
                )
            )
            bodies = next((r for r in rounds if charge.move_id.id not in r), None)
            if bodies is None:
                bodies = {}
                rounds.append(bodies)
            bodies[charge.move_id.id] = escape(message)
        Move = self.env["account.move"]
        for bodies in rounds:
            Move.browse(list(bodies))._message_log_batch(bodies=bodies)
        return paid

    @api.model
    def _mark_paid_otherwise(self):
        """Active charges whose installment was paid by other means, or whose invoice is
        no longer posted, are removed at the PSP."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT c.id
              FROM rbm_pix_charge c
              JOIN account_move m ON m.id = c.move_id
         LEFT JOIN account_move_line l ON l.id = c.move_line_id
             WHERE c.state IN ('active', 'to_send')
               AND (l.reconciled OR m.state != 'posted')
             ORDER BY c.id
            """
        )
        closed = self.browse([row[0] for row in self.env.cr.fetchall()])
        if closed:
            closed.write({"state": "to_cancel"})

    @api.model
    def _search_changed(self):
        """The active charges whose installment changed (``_get_changes``), selected in
        one query: the amount left to pay differs in the company currency's rounding,
        or the due date moved to a day not past."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT c.id
                  FROM rbm_pix_charge c
                  JOIN account_move_line l ON l.id = c.move_line_id
                  JOIN res_company co ON co.id = c.company_id
                  JOIN res_currency cur ON cur.id = co.currency_id
                 WHERE c.state = 'active'
                   AND (
                        ROUND((l.amount_residual - c.amount) / cur.rounding) != 0
                        OR (
                            l.date_maturity IS NOT NULL
                            AND l.date_maturity != c.due_date
                            AND l.date_maturity >= %s
                        )
                   )
                 ORDER BY c.id
                """,
                fields.Date.context_today(self),
            )
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _get_changes(self):
        """What changed on the installment since the charge was sent (its amount left to
        pay, or its due date moved to a day not past): the values to write, or {}."""
        self.ensure_one()
        line = self.move_line_id
        changes = {}
        if self.currency_id.compare_amounts(line.amount_residual, self.amount) != 0:
            changes["amount"] = line.amount_residual
        due = line.date_maturity
        if due and due != self.due_date and due >= fields.Date.context_today(self):
            changes["due_date"] = due
        return changes

    def _update(self, client):
        """``PATCH`` the amount and due date of an active charge whose installment
        changed (a partial payment by other means, a new due date)."""
        self.ensure_one()
        changes = self._get_changes()
        if not changes or self.currency_id.compare_amounts(changes.get("amount", 1), 0) <= 0:
            return
        self.write(changes)
        body = {"valor": {"original": format_amount(self.amount)}}
        if self.kind == "cobv":
            body["calendario"] = {
                "dataDeVencimento": self.due_date.isoformat(),
                "validadeAposVencimento": self.validity_days,
            }
            self._apply_answer(client.patch_cobv(self.txid, body))
        else:
            self._apply_answer(client.patch_cob(self.txid, body))

    @api.model
    def _get_active_for_installment(self, move_line):
        """The active charge of ``move_line`` whose code can be shown, if any."""
        if not move_line:
            return self.browse()
        return self.search(
            [
                ("move_line_id", "=", move_line.id),
                ("state", "=", "active"),
                ("pix_copy_paste", "!=", False),
            ],
            limit=1,
        )

    def _get_boletos(self):
        """The boletos of the charges' installments."""
        return self.env["rbm.boleto"].sudo().search([("move_line_id", "in", self.move_line_id.ids)])

    def action_rbm_pix_refund(self):
        """*Devolver Pix* for the payment of this charge."""
        self.env["account.payment"]._rbm_pix_check_refund_rights()
        self.ensure_one()
        return self.payment_id.action_rbm_pix_refund()

    def _cancel(self):
        """Ask the PSP to remove these charges (the cron does it)."""
        live = self.filtered(lambda c: c.state in ("to_send", "active"))
        if live:
            live.write({"state": "to_cancel"})
            self.env.ref("rbm_pix.ir_cron_rbm_pix_charges")._trigger()
        return live


def _payer_document(partner):
    """``("cpf", digits)`` or ``("cnpj", digits)`` of the payer, or False."""
    digits = re.sub(r"\D", "", partner.vat or "")
    if len(digits) == 11:
        return "cpf", digits
    if len(digits) == 14:
        return "cnpj", digits
    return False


def _parse_moment(text):
    """A notification's ``horario`` (RFC 3339) as a naive UTC datetime, or False."""
    if not isinstance(text, str):
        return False
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)
