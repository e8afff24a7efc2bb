"""A Pix Automático authorization (``rec``) of one contract.

The record mirrors the PSP's recurrence: it is created in state ``to_send`` (nothing is sent
inside the user's transaction), sent by the authorizations cron (``POST /rec``, or
``POST /solicrec`` for journey 1), and follows the statuses the PSP reports by notification
(``/webhookrec``) or by the cron that reads back what stayed pending. One authorization per
contract is live (``to_send``, ``created`` or ``approved``) at a time (database-enforced).

Sending, crash-safe
===================

The cron sends an authorization in steps, each committed before the next one starts:

1. journeys 3 and 4: the first payment is the dynamic Pix charge (``cob`` or ``cobv``) of the
   contract's open installment (``rbm.pix.charge``, sent under our own txid);
2. ``POST /locrec``: a recurrence location, stored;
3. ``GET /locrec/{id}``: when the location already carries an ``idRec`` (the recurrence was
   created before a crash or a lost answer), that recurrence is adopted; otherwise
   ``POST /rec`` with the location. A recurrence is thus created once per authorization;
4. journey 1: ``POST /solicrec`` (the request pushed to the payer's bank);
5. ``GET /rec/{idRec}`` (with ``?txid=`` for journeys 3 and 4): the status and the
   copy-and-paste code.

A notification is only a hint: the recurrence is read back and its status applied. An ended
authorization (rejected, expired, cancelled) never goes back, an approved one never returns
to awaiting the payer: late or repeated notifications change nothing.
"""

import base64
import datetime
import logging
import re

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_amount, format_date, sql

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine.pix_api import PixApiError, PixError
from ..engine.pix_api import format_amount as pix_amount

_logger = logging.getLogger(__name__)

LIVE_STATES = ("to_send", "created", "approved")
ENDED_STATES = ("rejected", "expired", "cancelled", "failed")
# authorizations handled per cron step (the cron triggers itself again when more are left)
BATCH_SIZE = 200
# days the payer's bank shows a journey-1 request
REQUEST_VALIDITY_DAYS = 7

JOURNEYS = [
    ("1", "Journey 1 – request sent to the payer's bank"),
    ("2", "Journey 2 – QR code with the recurrence"),
    ("3", "Journey 3 – QR code: first payment now and the recurrence"),
    ("4", "Journey 4 – due-date charge offering the recurrence"),
]

STATES = [
    ("to_send", "To Send"),
    ("created", "Awaiting Payer"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("expired", "Expired"),
    ("cancelled", "Cancelled"),
    ("failed", "Failed"),
]

PERIODICITIES = [
    ("SEMANAL", "Weekly"),
    ("MENSAL", "Monthly"),
    ("TRIMESTRAL", "Quarterly"),
    ("SEMESTRAL", "Half-yearly"),
    ("ANUAL", "Yearly"),
]

# (interval unit, interval) of a plan -> periodicidade of the recurrence
PLAN_PERIODICITIES = {
    ("week", 1): "SEMANAL",
    ("month", 1): "MENSAL",
    ("month", 3): "TRIMESTRAL",
    ("month", 6): "SEMESTRAL",
    ("month", 12): "ANUAL",
    ("year", 1): "ANUAL",
}

RETRY_POLICIES = [
    ("NAO_PERMITE", "No retries"),
    ("PERMITE_3R_7D", "Up to 3 retries within 7 days"),
]

REC_STATES = {
    "CRIADA": "created",
    "APROVADA": "approved",
    "REJEITADA": "rejected",
    "EXPIRADA": "expired",
    "CANCELADA": "cancelled",
}

CANCELLED_BY = {
    "USUARIO_PAGADOR": "payer",
    "USUARIO_RECEBEDOR": "receiver",
    "PSP_PAGADOR": "payer_psp",
    "PSP_RECEBEDOR": "receiver_psp",
}

PROVISIONING_EVENTS = {
    "created": "pix_authorization_created",
    "approved": "pix_authorization_approved",
    "rejected": "pix_authorization_rejected",
    "expired": "pix_authorization_expired",
    "cancelled": "pix_authorization_cancelled",
}


def _reason_words(env, code):
    """The reason code of a rejection or cancellation (Pix message catalogue) in words."""
    words = {
        "AP13": env._("rejected by the payer"),
        "AP14": env._("request rejected by the payer"),
        "SLCR": env._("requested by the receiver"),
        "SLDB": env._("requested by the payer"),
        "ACCL": env._("the payer's account was closed"),
        "DCSD": env._("the payer died"),
        "FRUD": env._("suspected fraud"),
    }
    return words.get(code or "", "")


class RbmPixAuthorization(models.Model):
    _name = "rbm.pix.authorization"
    _description = "Pix Automático Authorization"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "display_ref"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    contract_id = fields.Many2one(
        "rbm.contract",
        string="Contract",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Payer", required=True)
    connection_id = fields.Many2one(
        "rbm.pix.connection", string="PSP Connection", required=True, ondelete="restrict"
    )
    journey = fields.Selection(
        JOURNEYS,
        required=True,
        default="2",
    )
    state = fields.Selection(
        STATES,
        default="to_send",
        required=True,
        index=True,
        tracking=True,
    )
    id_rec = fields.Char(string="Recurrence ID (idRec)", readonly=True, copy=False, index=True)
    id_solic_rec = fields.Char(string="Request ID (idSolicRec)", readonly=True, copy=False)
    txid = fields.Char(
        string="First Charge Transaction ID",
        readonly=True,
        copy=False,
        help="Journeys 3 and 4: the immediate or due-date charge carrying the recurrence.",
    )
    charge_id = fields.Many2one(
        "rbm.pix.charge",
        string="First Charge",
        readonly=True,
        copy=False,
        help="Journeys 3 and 4: the dynamic Pix charge of the open installment paid now.",
    )
    loc_id = fields.Integer(
        string="Location ID",
        readonly=True,
        copy=False,
        help="The recurrence location (locrec) created before the recurrence: reading it "
        "back tells whether the recurrence exists already.",
    )
    location = fields.Char(readonly=True, copy=False)
    pix_copy_paste = fields.Char(string="Pix Copy and Paste", readonly=True, copy=False)
    periodicity = fields.Selection(PERIODICITIES, required=True)
    amount_type = fields.Selection(
        [("fixed", "Fixed amount"), ("variable", "Variable amount")],
        required=True,
        default="fixed",
    )
    amount = fields.Monetary(help="Fixed amount of each cycle (valorRec).")
    amount_floor = fields.Monetary(
        string="Receiver's Floor",
        help="Variable amount: the lowest amount the payer may set as the maximum "
        "(valorMinimoRecebedor).",
    )
    payer_max_amount = fields.Monetary(
        string="Payer's Maximum", readonly=True, help="Maximum per cycle set by the payer."
    )
    first_amount = fields.Monetary(help="Journey 3: the payment made now.")
    start_date = fields.Date(required=True)
    end_date = fields.Date()
    retry_policy = fields.Selection(RETRY_POLICIES, required=True, default="PERMITE_3R_7D")
    payer_ispb = fields.Char(
        string="Payer's Bank (ISPB)",
        help="Journey 1: the 8-character ISPB of the payer's bank or payment institution.",
    )
    payer_branch = fields.Char(string="Payer's Branch", help="Journey 1: the branch, if any.")
    payer_account = fields.Char(
        string="Payer's Account", help="Journey 1: the payer's account number, with its digit."
    )
    payer_bank_name = fields.Char(string="Payer's Bank", readonly=True, copy=False)
    approved_on = fields.Datetime(readonly=True, copy=False)
    ended_on = fields.Datetime(readonly=True, copy=False)
    cancelled_by = fields.Selection(
        [
            ("payer", "Payer"),
            ("receiver", "Receiver"),
            ("payer_psp", "Payer's PSP"),
            ("receiver_psp", "Receiver's PSP"),
        ],
        readonly=True,
        copy=False,
    )
    reason_code = fields.Char(readonly=True, copy=False)
    reason = fields.Char(string="Reason", readonly=True, copy=False)
    cancel_requested = fields.Boolean(
        readonly=True,
        copy=False,
        help="The receiver asked to cancel: the cron cancels the recurrence at the PSP.",
    )
    previous_payment_mode = fields.Char(
        readonly=True,
        copy=False,
        help="How the contract was paid before this authorization was approved.",
    )
    error_message = fields.Text(string="Last Error", readonly=True, copy=False)
    display_ref = fields.Char(compute="_compute_display_ref")
    status_text = fields.Char(string="Status Details", compute="_compute_status_text")

    # ------------------------------------------------------------
    # SQL
    # ------------------------------------------------------------

    _sql_constraints = [
        (
            "id_rec_uniq",
            "unique(connection_id, id_rec)",
            "A Pix Automático recurrence (idRec) belongs to one authorization only.",
        ),
        (
            "amounts_positive",
            "CHECK(coalesce(amount, 0) >= 0 AND coalesce(amount_floor, 0) >= 0)",
            "The amounts of a Pix Automático authorization cannot be negative.",
        ),
        (
            "dates_ordered",
            "CHECK(end_date IS NULL OR end_date >= start_date)",
            "The end date of a Pix Automático authorization cannot be before its start date.",
        ),
    ]

    def init(self):
        super().init()
        # one live authorization per contract (an ended one may be replaced)
        if not sql.index_exists(self.env.cr, "rbm_pix_authorization_contract_live_uniq"):
            self.env.cr.execute(
                SQL(
                    """
                    CREATE UNIQUE INDEX rbm_pix_authorization_contract_live_uniq
                        ON rbm_pix_authorization (contract_id)
                     WHERE state IN %s
                    """,
                    LIVE_STATES,
                )
            )

    # ------------------------------------------------------------
    # COMPUTE / CONSTRAINTS
    # ------------------------------------------------------------

    def _compute_display_ref(self):
        for auth in self:
            auth.display_ref = auth.id_rec or auth.id_solic_rec or f"#{auth.id or 0}"

    @api.depends("state", "cancelled_by", "reason_code", "reason", "approved_on", "ended_on")
    def _compute_status_text(self):
        labels = dict(self._fields["state"]._description_selection(self.env))
        who = dict(self._fields["cancelled_by"]._description_selection(self.env))
        for auth in self:
            text = labels.get(auth.state, "")
            if auth.state == "cancelled" and auth.cancelled_by:
                text = _("Cancelled by %(who)s", who=who[auth.cancelled_by])
            words = _reason_words(self.env, auth.reason_code)
            if auth.reason_code:
                text += f" ({auth.reason_code}: {words or auth.reason or ''})".replace(": )", ")")
            auth.status_text = text

    @api.constrains("journey", "payer_ispb", "payer_account")
    def _check_journey_one(self):
        for auth in self.filtered(lambda a: a.journey == "1"):
            if not (auth.payer_ispb and re.fullmatch(r"[0-9A-Z]{8}", auth.payer_ispb)):
                raise ValidationError(
                    _(
                        "Pix Automático authorization of contract %(contract)s: journey 1 sends "
                        "the request to the payer's bank; write its 8-character ISPB (field "
                        "Payer's Bank (ISPB)).",
                        contract=auth.contract_id.display_name,
                    )
                )
            if not (auth.payer_account and re.fullmatch(r"[0-9A-Za-z]{1,20}", auth.payer_account)):
                raise ValidationError(
                    _(
                        "Pix Automático authorization of contract %(contract)s: journey 1 needs "
                        "the payer's account number, up to 20 letters and digits with no "
                        "separators (field Payer's Account).",
                        contract=auth.contract_id.display_name,
                    )
                )
            if auth.payer_branch and not re.fullmatch(r"\d{1,4}", auth.payer_branch):
                raise ValidationError(
                    _(
                        "Pix Automático authorization of contract %(contract)s: the branch has "
                        "up to 4 digits (field Payer's Branch).",
                        contract=auth.contract_id.display_name,
                    )
                )

    # ------------------------------------------------------------
    # CREATION FROM THE CONTRACT
    # ------------------------------------------------------------

    @api.model
    def _prepare_for_contract(self, contract, journey="2", payer=None):
        """The values of a new authorization of ``contract``; raise UserError naming the
        contract and the field when it cannot have one."""
        contract.ensure_one()
        name = contract.display_name
        if contract.state not in ("trial", "active", "suspended"):
            raise UserError(
                _(
                    "Contract %(contract)s is not running (field Status): only a running "
                    "contract can be paid by Pix Automático.",
                    contract=name,
                )
            )
        live = contract.rbm_pix_authorization_ids.filtered(lambda a: a.state in LIVE_STATES)
        if live:
            raise UserError(
                _(
                    "Contract %(contract)s already has a Pix Automático authorization "
                    "%(authorization)s (%(state)s): cancel it first.",
                    contract=name,
                    authorization=live[0].display_ref,
                    state=live[0].status_text,
                )
            )
        plan = contract.plan_id
        periodicity = PLAN_PERIODICITIES.get((plan.interval_unit, plan.interval))
        if not periodicity:
            units = dict(plan._fields["interval_unit"]._description_selection(self.env))
            raise UserError(
                _(
                    "Contract %(contract)s cannot be paid by Pix Automático: its plan "
                    "%(plan)s bills every %(interval)s %(unit)s (fields Billing Every and "
                    "Billing Period Unit), and Pix Automático only knows weekly, monthly, "
                    "quarterly, half-yearly and yearly recurrences.",
                    contract=name,
                    plan=plan.display_name,
                    interval=plan.interval,
                    unit=units.get(plan.interval_unit, plan.interval_unit).lower(),
                )
            )
        partner = contract.commercial_partner_id
        if not _payer_document(partner):
            raise UserError(
                _(
                    "Contract %(contract)s: the customer %(customer)s has no valid CPF or CNPJ "
                    "(field Tax ID), which Pix Automático requires of the payer.",
                    contract=name,
                    customer=partner.display_name,
                )
            )
        connection = self.env["rbm.pix.connection"]._get_default_connection(contract.company_id)
        if not connection:
            raise UserError(
                _(
                    "Contract %(contract)s: company %(company)s has no default PSP connection "
                    "(menu PSP Connections (Pix API)).",
                    contract=name,
                    company=contract.company_id.display_name,
                )
            )
        today = fields.Date.context_today(self)
        start = max(contract.next_invoice_date or contract.date_start, today)
        if contract.date_end and contract.date_end < start:
            raise UserError(
                _(
                    "Contract %(contract)s ends on %(date)s (field End Date): no cycle is "
                    "left to pay by Pix Automático.",
                    contract=name,
                    date=format_date(self.env, contract.date_end),
                )
            )
        vals = {
            "contract_id": contract.id,
            "company_id": contract.company_id.id,
            "partner_id": partner.id,
            "connection_id": connection.id,
            "journey": journey,
            "periodicity": periodicity,
            "start_date": start,
            "end_date": contract.date_end,
            "retry_policy": connection.retry_policy,
        }
        usage = contract.line_ids.filtered(lambda line: line.line_type == "usage")
        total = contract.recurring_total
        if usage:
            # the receiver's floor: what every cycle costs whatever the usage
            fixed = contract._get_current_recurring_lines() - usage
            vals.update(amount_type="variable", amount_floor=sum(fixed.mapped("subtotal")))
        elif contract.currency_id.compare_amounts(total, 0) <= 0:
            raise UserError(
                _(
                    "Contract %(contract)s has no recurring amount to authorize (field Price "
                    "per Period).",
                    contract=name,
                )
            )
        else:
            vals.update(amount_type="fixed", amount=total)
        if journey == "1":
            vals.update(payer or {})
        elif journey in ("3", "4"):
            vals.update(self._prepare_first_charge(contract, journey, connection))
        return vals

    @api.model
    def _prepare_first_charge(self, contract, journey, connection):
        """Journeys 3 and 4: the contract's oldest open installment becomes the payment
        made now, through its dynamic Pix charge (a ``cob`` for journey 3, a ``cobv``
        for journey 4)."""
        lines = self.env["account.move.line"].search(
            [
                ("move_id.rbm_contract_id", "=", contract.id),
                ("move_id.state", "=", "posted"),
                ("move_id.move_type", "=", "out_invoice"),
                ("account_id.account_type", "=", "asset_receivable"),
                ("reconciled", "=", False),
                ("amount_residual", ">", 0),
            ],
            order="date_maturity, id",
            limit=1,
        )
        if not lines:
            raise UserError(
                _(
                    "Contract %(contract)s has no open invoice to pay now: journeys 3 and 4 "
                    "start with a payment of an open invoice. Choose journey 2 (QR code with "
                    "the recurrence) or 1 (request sent to the payer's bank).",
                    contract=contract.display_name,
                )
            )
        Charge = self.env["rbm.pix.charge"].sudo()
        kind = "cob" if journey == "3" else "cobv"
        charge = Charge.search(
            [("move_line_id", "=", lines.id), ("state", "in", ("to_send", "active"))], limit=1
        )
        if charge and charge.kind != kind:
            raise UserError(
                _(
                    "Contract %(contract)s: invoice %(invoice)s already has a %(kind)s Pix "
                    "charge; choose journey %(journey)s.",
                    contract=contract.display_name,
                    invoice=lines.move_id.display_name,
                    kind=charge.kind,
                    journey="4" if charge.kind == "cobv" else "3",
                )
            )
        if not charge:
            move = lines.move_id.sudo()
            if not move.rbm_collection_account_id:
                # the payment of the first charge is posted on a collection account's
                # journal: an invoice that had none (paid by plain invoice) gets the
                # contract's, else the company's first
                first = (
                    self.env["rbm.collection.account"]
                    .sudo()
                    .search(
                        [("company_id", "=", move.company_id.id)], order="sequence, id", limit=1
                    )
                )
                account = move._rbm_get_collection_account({move.company_id: first})
                if not account:
                    raise UserError(
                        _(
                            "Contract %(contract)s: invoice %(invoice)s has no collection "
                            "account to receive the first payment (field Collection Account); "
                            "create one under Collection, or choose journey 2.",
                            contract=contract.display_name,
                            invoice=move.display_name,
                        )
                    )
                move.rbm_collection_account_id = account
            charge = Charge._create_for_installments(connection, lines)
            charge.kind = kind
        return {"charge_id": charge.id, "txid": charge.txid, "first_amount": charge.amount}

    @api.model
    def _create_for_contract(self, contract, journey="2", payer=None):
        """A new authorization of ``contract`` in state ``to_send``; the cron sends it."""
        vals = self._prepare_for_contract(contract, journey, payer)
        try:
            with self.env.cr.savepoint():
                authorization = self.create(vals)
        except psycopg2.errors.UniqueViolation as error:
            # a request made at the same time (a double submit) won: the database keeps one
            raise UserError(
                _(
                    "Contract %(contract)s already has a Pix Automático authorization, "
                    "requested at the same time: refresh the page.",
                    contract=contract.display_name,
                )
            ) from error
        contract.message_post(
            body=_(
                "Pix Automático authorization requested (%(journey)s): %(amount)s, %(period)s "
                "from %(date)s.",
                journey=dict(self._fields["journey"]._description_selection(self.env))[journey],
                amount=authorization._get_amount_text(),
                period=dict(self._fields["periodicity"]._description_selection(self.env))[
                    authorization.periodicity
                ].lower(),
                date=format_date(self.env, authorization.start_date),
            ),
            subtype_xmlid="mail.mt_note",
        )
        self._trigger_cron()
        return authorization

    def _get_amount_text(self):
        self.ensure_one()
        if self.amount_type == "fixed":
            return format_amount(self.env, self.amount, self.currency_id)
        return _(
            "variable amount, at least %(floor)s as the payer's maximum",
            floor=format_amount(self.env, self.amount_floor, self.currency_id),
        )

    @api.model
    def _trigger_cron(self):
        cron = self.env.ref("rbm_pix.ir_cron_rbm_pix_authorizations", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_cancel(self):
        """The receiver cancels (the cron sends ``PATCH /rec`` with status CANCELADA)."""
        check_staff_access(self, "write")
        self._request_cancel()
        return True

    def action_refresh(self):
        """Read the recurrence back from the PSP now."""
        check_staff_access(self, "read")
        for auth in self.sudo().filtered(lambda a: a.id_rec and a.state in ("created", "approved")):
            auth._run("_poll", auto_commit=False)
        return True

    def _request_cancel(self, note=None):
        """Ask the PSP to cancel the live authorizations in ``self`` (the cron does it);
        those never sent are cancelled here."""
        live = self.filtered(lambda a: a.state in LIVE_STATES and not a.cancel_requested)
        unsent = live.filtered(lambda a: a.state == "to_send" and not a.loc_id)
        for auth in unsent:
            auth._set_state(
                "cancelled",
                {"cancelled_by": "receiver", "reason_code": "SLCR", "reason": note or False},
            )
        rest = live - unsent
        if rest:
            rest.write({"cancel_requested": True, "reason": note or False})
            self._trigger_cron()
        return live

    # ------------------------------------------------------------
    # WHAT IS SENT
    # ------------------------------------------------------------

    def _prepare_rec_body(self):
        """The body of ``POST /rec``."""
        self.ensure_one()
        contract = self.contract_id
        kind, number = _payer_document(self.partner_id)
        body = {
            "vinculo": {
                "contrato": contract.name[:35],
                "objeto": (contract.plan_id.name or "")[:35],
                "devedor": {kind: number, "nome": (self.partner_id.name or "")[:140]},
            },
            "calendario": {
                "dataInicial": self.start_date.isoformat(),
                "periodicidade": self.periodicity,
            },
            "politicaRetentativa": self.retry_policy,
            "loc": self.loc_id,
        }
        if self.end_date:
            body["calendario"]["dataFinal"] = self.end_date.isoformat()
        if self.amount_type == "fixed":
            body["valor"] = {"valorRec": pix_amount(self.amount)}
        elif self.amount_floor:
            body["valor"] = {"valorMinimoRecebedor": pix_amount(self.amount_floor)}
        if self.journey in ("3", "4") and self.txid:
            body["ativacao"] = {"dadosJornada": {"txid": self.txid}}
        return body

    def _prepare_solicrec_body(self):
        """The body of ``POST /solicrec`` (journey 1)."""
        self.ensure_one()
        kind, number = _payer_document(self.partner_id)
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            days=REQUEST_VALIDITY_DAYS
        )
        destinatario = {
            "conta": self.payer_account,
            "ispbParticipante": self.payer_ispb,
            kind: number,
        }
        if self.payer_branch:
            destinatario["agencia"] = self.payer_branch
        return {
            "idRec": self.id_rec,
            "calendario": {"dataExpiracaoSolicitacao": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "destinatario": destinatario,
        }

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        self._process_pending(auto_commit=True)

    @api.model
    def _process_pending(self, auto_commit=False, limit=BATCH_SIZE):
        """Send what is to send, cancel what the receiver cancelled, and read back the
        authorizations still awaiting the payer (a missed notification is never lost)."""
        more = False
        to_send = self.search(
            [("state", "=", "to_send"), ("cancel_requested", "=", False)],
            order="id",
            limit=limit + 1,
        )
        more |= len(to_send) > limit
        for auth in to_send[:limit]:
            if auth.journey in ("3", "4") and auth.charge_id.state == "to_send":
                auth._run("_send_first_charge", auto_commit)
            if not auth.loc_id and auth.state == "to_send":
                auth._run("_send_location", auto_commit)
            if auth.loc_id and auth.state == "to_send":
                auth._run("_send_rec", auto_commit)
        to_cancel = self.search(
            [("cancel_requested", "=", True), ("state", "in", LIVE_STATES)],
            order="id",
            limit=limit + 1,
        )
        more |= len(to_cancel) > limit
        for auth in to_cancel[:limit]:
            auth._run("_cancel_at_psp", auto_commit)
        pending = self.search(
            [("state", "=", "created"), ("id_rec", "!=", False)],
            order="write_date, id",
            limit=limit,
        )
        for auth in pending:
            auth._run("_poll", auto_commit)
        if more and auto_commit:
            self._trigger_cron()

    def _run(self, method, auto_commit):
        """Call ``method`` with the connection's client; an error is kept on the record in
        words (failed when the PSP refused to create it, kept for the next run when the
        PSP could not be reached)."""
        self.ensure_one()
        connection = self.connection_id
        try:
            with self.env.cr.savepoint(), connection._get_client() as client:
                getattr(self, method)(client)
        except PixError as error:
            message = connection._get_pix_error_message(error)
            refused = isinstance(error, PixApiError) and 400 <= (error.status or 0) < 500
            values = {"error_message": message}
            if refused and self.state == "to_send" and method != "_cancel_at_psp":
                self._set_state("failed", values)
            else:
                self.write(values)
            _logger.info("Pix authorization %s: %s failed: %s", self.id, method, error)
        except UserError as error:
            self.write({"error_message": error.args[0]})
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _send_first_charge(self, client):
        """Journeys 3 and 4: send the first payment's charge (idempotent under its txid)."""
        self.ensure_one()
        charge = self.charge_id.sudo()
        charge._send(client)
        if charge.state != "active":
            raise UserError(
                _(
                    "Pix charge %(txid)s of the first payment is %(state)s at the PSP.",
                    txid=charge.txid,
                    state=charge.state,
                )
            )

    def _send_location(self, client):
        """``POST /locrec``: the location the recurrence is created with (stored first)."""
        self.ensure_one()
        loc = client.post_locrec() or {}
        if not isinstance(loc.get("id"), int):
            raise PixApiError(502, title="The PSP answered a location without its id")
        self.write({"loc_id": loc["id"], "location": loc.get("location"), "error_message": False})

    def _send_rec(self, client):
        """Create the recurrence once: adopt the one already linked to our location, else
        ``POST /rec``; then journey 1's request, then read it back."""
        self.ensure_one()
        charge = self.charge_id
        if self.journey in ("3", "4") and charge.state in ("failed", "cancelled"):
            self._set_state(
                "failed",
                {
                    "error_message": _(
                        "The Pix charge %(txid)s of the first payment (invoice %(invoice)s) "
                        "is %(state)s: authorize again with another journey.",
                        txid=charge.txid,
                        invoice=charge.move_id.display_name,
                        state=dict(charge._fields["state"]._description_selection(self.env))[
                            charge.state
                        ].lower(),
                    )
                },
            )
            return
        if self.journey in ("3", "4") and charge.state not in ("active", "paid"):
            return
        loc = client.get_locrec(self.loc_id) or {}
        id_rec = loc.get("idRec")
        if not id_rec:
            answer = client.post_rec(self._prepare_rec_body()) or {}
            id_rec = answer.get("idRec")
            if not id_rec:
                raise PixApiError(502, title="The PSP answered a recurrence without its idRec")
        self.write({"id_rec": id_rec})
        if self.journey == "1" and not self.id_solic_rec:
            try:
                answer = client.post_solicrec(self._prepare_solicrec_body()) or {}
                self.id_solic_rec = answer.get("idSolicRec")
            except PixApiError as error:
                # a request sent before a crash is still active: the recurrence tells the rest
                if error.status != 400 or "ativa" not in str(error):
                    raise
        self._poll(client)
        if self.state == "to_send":
            self._set_state("created", {})

    def _poll(self, client):
        self.ensure_one()
        txid = self.txid if self.journey in ("3", "4") else None
        self._apply_rec(client.get_rec(self.id_rec, txid=txid))

    def _cancel_at_psp(self, client):
        """``PATCH /rec/{idRec}`` with status CANCELADA; a recurrence already ended is read
        back instead."""
        self.ensure_one()
        if not self.id_rec and self.loc_id:
            self.id_rec = (client.get_locrec(self.loc_id) or {}).get("idRec") or False
        if not self.id_rec:
            self._set_state(
                "cancelled",
                {"cancelled_by": "receiver", "reason_code": "SLCR", "cancel_requested": False},
            )
            return
        try:
            answer = client.cancel_rec(self.id_rec)
        except PixApiError as error:
            if not error.status or error.status >= 500 or error.status == 401:
                raise
            answer = client.get_rec(self.id_rec)
        self._apply_rec(answer)
        self.cancel_requested = False

    # ------------------------------------------------------------
    # STATUS
    # ------------------------------------------------------------

    @api.model
    def _apply_notifications(self, connection, items):
        """Notifications ``{"recs": [...]}`` of ``connection``: each one a hint, the
        recurrence is read back. Returns the authorizations read."""
        ids = {
            item["idRec"]
            for item in items
            if isinstance(item, dict) and isinstance(item.get("idRec"), str)
        }
        auths = self.search([("connection_id", "=", connection.id), ("id_rec", "in", list(ids))])
        for auth in auths:
            auth._run("_poll", auto_commit=False)
        return auths

    def _apply_rec(self, answer):
        """Apply the recurrence the PSP answered: its status (never back from an ended
        state, nor from approved to awaiting the payer) and its QR code."""
        self.ensure_one()
        # one status change at a time (a notification and the cron at once)
        self.env.cr.execute(
            SQL("SELECT id FROM rbm_pix_authorization WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset()
        answer = answer or {}
        values = {"error_message": False}
        qr = (answer.get("dadosQR") or {}).get("pixCopiaECola")
        if qr and not self.pix_copy_paste and self.journey != "1":
            values["pix_copy_paste"] = qr
        location = (answer.get("loc") or {}).get("location")
        if location and not self.location:
            values["location"] = location
        state = REC_STATES.get(answer.get("status"))
        if (
            not state
            or state == self.state
            or self.state in ENDED_STATES
            or (state == "created" and self.state == "approved")
        ):
            self.write(values)
            return
        closing = answer.get("encerramento") or {}
        if state == "cancelled":
            cancel = closing.get("cancelamento") or {}
            values.update(
                cancelled_by=CANCELLED_BY.get(cancel.get("solicitante")),
                reason_code=(cancel.get("codigo") or "")[:4] or False,
                reason=(cancel.get("descricao") or "")[:400] or values.get("reason"),
                cancel_requested=False,
            )
        elif state == "rejected":
            reject = closing.get("rejeicao") or {}
            values.update(
                reason_code=(reject.get("codigo") or "")[:4] or False,
                reason=(reject.get("descricao") or "")[:400] or False,
            )
        elif state == "approved":
            payer = answer.get("pagador") or {}
            if payer.get("ispbParticipante"):
                values["payer_bank_name"] = payer["ispbParticipante"]
        self._set_state(state, values)

    def _set_state(self, state, values):
        """Write ``state`` and tell the contract: its chatter, a provisioning event, its
        payment method."""
        self.ensure_one()
        now = fields.Datetime.now()
        values = dict(values, state=state)
        if state == "approved":
            values["approved_on"] = now
        elif state in ENDED_STATES:
            values["ended_on"] = now
        self.write(values)
        contract = self.contract_id
        if state == "approved":
            if contract.payment_mode != "pix_automatico":
                self.previous_payment_mode = contract.payment_mode or False
                contract.with_context(
                    rbm_pix_authorization_sync=True
                ).payment_mode = "pix_automatico"
        elif state in ENDED_STATES:
            if contract.payment_mode == "pix_automatico":
                contract.with_context(rbm_pix_authorization_sync=True).payment_mode = (
                    self.previous_payment_mode or "boleto"
                )
            cron = self.env.ref("rbm_pix.ir_cron_rbm_pix_cycle_charges", raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger()
        contract.message_post(body=self._get_state_message(), subtype_xmlid="mail.mt_note")
        event = PROVISIONING_EVENTS.get(state)
        if event:
            contract._emit_provisioning(event)

    def _get_state_message(self):
        self.ensure_one()
        ref = self.display_ref
        if self.state == "created":
            return _(
                "Pix Automático authorization %(ref)s created: awaiting the payer's approval.",
                ref=ref,
            )
        if self.state == "approved":
            return _(
                "Pix Automático authorization %(ref)s approved by the payer: the contract is "
                "now paid by Pix Automático.",
                ref=ref,
            )
        if self.state == "failed":
            return _(
                "Pix Automático authorization %(ref)s refused by the PSP: %(error)s",
                ref=ref,
                error=self.error_message or "",
            )
        if self.state == "expired":
            return _(
                "Pix Automático authorization %(ref)s expired: the payer did not answer.",
                ref=ref,
            )
        return _(
            "Pix Automático authorization %(ref)s: %(status)s.", ref=ref, status=self.status_text
        )

    # ------------------------------------------------------------
    # PORTAL
    # ------------------------------------------------------------

    def _get_qr_image(self, size=240):
        """The copy-and-paste code as a QR image (PNG data URI), or False."""
        self.ensure_one()
        if not self.pix_copy_paste:
            return False
        png = self.env["ir.actions.report"].barcode(
            "QR", self.pix_copy_paste, width=size, height=size, barLevel="M", quiet=0
        )
        return "data:image/png;base64," + base64.b64encode(png).decode()


class RbmPixAuthorizationWizard(models.TransientModel):
    _name = "rbm.pix.authorization.wizard"
    _description = "Authorize Pix Automático"

    contract_id = fields.Many2one("rbm.contract", required=True, readonly=True)
    journey = fields.Selection(
        JOURNEYS,
        required=True,
        default="2",
    )
    payer_ispb = fields.Char(string="Payer's Bank (ISPB)")
    payer_branch = fields.Char(string="Payer's Branch")
    payer_account = fields.Char(string="Payer's Account")

    def action_confirm(self):
        check_staff_access(self.contract_id, "write")
        self.ensure_one()
        payer = None
        if self.journey == "1":
            payer = {
                "payer_ispb": (self.payer_ispb or "").strip().upper(),
                "payer_branch": (self.payer_branch or "").strip() or False,
                "payer_account": re.sub(r"[\s.-]", "", self.payer_account or ""),
            }
        self.env["rbm.pix.authorization"]._create_for_contract(
            self.contract_id, self.journey, payer
        )
        return {"type": "ir.actions.act_window_close"}


def _payer_document(partner):
    """``("cpf", digits)`` or ``("cnpj", characters)`` of the payer, or False."""
    digits = re.sub(r"[^0-9A-Z]", "", (partner.vat or "").upper())
    if len(digits) == 11 and digits.isdigit():
        return "cpf", digits
    if len(digits) == 14:
        return "cnpj", digits
    return False
