"""What rbm_dunning adds to invoices (boletos, Pix code, direct debit
mandate, saved-card charges, collection steps and late fees), in one
extension of account.move: its ``_post`` and ``button_draft`` are the only
hooks of this addon on posting and on the reset to draft."""

import base64
import logging
import secrets
from collections import defaultdict

import psycopg2
from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import sql

from odoo.addons.rbm_recurring.engine.privacy import mask_personal_data
from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import pix
from .rbm_boleto import ACTIVE_STATES, PAYABLE_STATES, _decimal

_logger = logging.getLogger(__name__)

SETTLED_PAYMENT_STATES = ("paid", "in_payment", "reversed")
# transaction states of a payment on its way: no second charge meanwhile
IN_FLIGHT_TX_STATES = ("pending", "authorized", "done")
TXID_PREFIX = "RBM"


class AccountMove(models.Model):
    _inherit = "account.move"

    # boletos
    rbm_collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        copy=False,
        check_company=True,
        help="Boletos of this invoice are issued on this account when it is posted. "
        "Contract invoices paid by boleto use the contract's (or the company's first) account.",
    )
    rbm_boleto_ids = fields.One2many("rbm.boleto", "move_id", string="Boletos")
    rbm_boleto_count = fields.Integer(string="Boleto Count", compute="_compute_rbm_boleto_count")
    rbm_boleto_pdf_id = fields.Many2one(
        "ir.attachment",
        string="Boleto PDF",
        copy=False,
        readonly=True,
        help="The printed boletos, attached to the invoice email.",
    )
    rbm_legal_collection = fields.Boolean(
        string="In Protest / Legal Collection",
        copy=False,
        tracking=True,
        groups="rbm_recurring.rbm_recurring_group_user,account.group_account_invoice",
        help="The invoice was sent to protest or legal collection: its customer's collection "
        "status is In legal collection / protest until it is paid.",
    )

    # Pix
    rbm_pix_txid = fields.Char(
        string="Pix Transaction ID",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Identifies the Pix paying this invoice (txid): bank statement lines carrying it "
        "are reconciled with the invoice.",
    )
    rbm_pix_payload = fields.Char(
        string="Pix Copy and Paste",
        copy=False,
        readonly=True,
        help="Pix BR Code of the invoice amount with its transaction ID.",
    )

    # direct debit
    rbm_debit_mandate_id = fields.Many2one(
        "rbm.debit.mandate",
        string="Direct Debit Mandate",
        copy=False,
        check_company=True,
        domain="[('partner_id', '=', commercial_partner_id), ('state', '=', 'active')]",
        help="The open installments of this invoice are debited with this mandate in the next "
        "direct debit remittance. Contract invoices paid by direct debit use the contract's "
        "(or the customer's active) mandate.",
    )
    rbm_debit_ids = fields.One2many("rbm.debit", "move_id", string="Direct Debits")

    # saved card
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

    # collection
    rbm_collection_log_ids = fields.One2many(
        "rbm.collection.log", "move_id", string="Collection Steps", readonly=True
    )
    rbm_late_fee_ids = fields.One2many("rbm.late.fee", "move_id", string="Late Fees", readonly=True)

    def init(self):
        super().init()
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS account_move_rbm_card_charge_due_idx
                ON account_move (id)
             WHERE rbm_card_charge_due
            """
        )
        if not sql.index_exists(self.env.cr, "account_move_rbm_pix_txid_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX account_move_rbm_pix_txid_uniq
                    ON account_move (company_id, rbm_pix_txid)
                 WHERE rbm_pix_txid IS NOT NULL
                """
            )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("rbm_boleto_ids")
    def _compute_rbm_boleto_count(self):
        counts = dict(
            self.env["rbm.boleto"]._read_group(
                [("move_id", "in", self.ids)], ["move_id"], ["__count"]
            )
        )
        for move in self:
            move.rbm_boleto_count = counts.get(move, 0)

    @api.depends("rbm_card_attempt_ids")
    def _compute_rbm_card_attempt_count(self):
        counts = dict(
            self.env["rbm.card.attempt"]._read_group(
                [("move_id", "in", self.ids)], ["move_id"], ["__count"]
            )
        )
        for move in self:
            move.rbm_card_attempt_count = counts.get(move, 0)

    @api.depends("rbm_pix_payload", "rbm_boleto_ids")
    def _compute_display_qr_code(self):
        super()._compute_display_qr_code()
        # an invoice with its own Pix code (txid for the reconciliation) or
        # boletos (each with its Pix QR) does not print a second, generic QR
        self.filtered(lambda m: m.rbm_pix_payload or m.rbm_boleto_ids).display_qr_code = False

    # ------------------------------------------------------------
    # POSTING AND CANCELLING
    # ------------------------------------------------------------

    def _post(self, soft=True):
        """Posting a customer invoice prepares how it is paid, in this order:

        1. ``_rbm_assign_debit_mandates``: an invoice of a contract paid by
           direct debit takes its mandate (debited by the next remittance);
        2. ``_rbm_issue_boletos``: an invoice paid by boleto, or with a
           collection account, gets a boleto for each open installment;
        3. ``_rbm_issue_pix``: an invoice paid by Pix gets its txid and BR Code;
        4. ``_rbm_schedule_card_charges``: an invoice paid by a saved card is
           marked for the card run, which calls the provider only after this
           transaction commits (nothing is charged for an invoice that a
           failure of an earlier step rolls back).

        Each step picks its own invoices (by the contract's payment method;
        boletos also for an invoice given a collection account) and reads
        nothing another step writes. The order states what comes first: the
        means the bank collects the invoice with (mandate, boletos, Pix code),
        then the card charge, the one step with an effect outside the database.
        An invoice given a collection account and paid by Pix has its boletos
        issued before its Pix code.
        """
        posted = super()._post(soft=soft)
        posted._rbm_assign_debit_mandates()
        posted._rbm_issue_boletos(automatic=True)
        posted._rbm_issue_pix()
        posted._rbm_schedule_card_charges()
        return posted

    def button_draft(self):
        """A reset to draft (``button_cancel`` resets posted invoices through
        here too) stops the automatic card charges, then writes the active
        boletos off."""
        # rights first: the card retries and the boletos are changed as superuser
        check_staff_access(self, "write")
        self._rbm_stop_card_charges()
        self._rbm_write_off_boletos()
        return super().button_draft()

    def _rbm_schedule_card_charges(self):
        """Mark the posted invoices paid by a saved card for the card run,
        and wake it up."""
        to_charge = self.filtered(lambda m: m._rbm_is_paid_by_card())
        if to_charge:
            # Charged by the card run right after this transaction commits:
            # the provider is never called for an invoice a rollback could undo.
            to_charge.rbm_card_charge_due = True
            self.env.ref("rbm_dunning.ir_cron_rbm_card_retries")._trigger()

    def _rbm_stop_card_charges(self):
        """No more automatic card charge for these invoices."""
        due = self.filtered("rbm_card_charge_due")
        if due:
            due.rbm_card_charge_due = False
        retries = self.sudo().rbm_card_attempt_ids.filtered("next_retry_date")
        if retries:
            retries.next_retry_date = False

    def _rbm_write_off_boletos(self):
        boletos = self.sudo().rbm_boleto_ids.filtered(lambda b: b.state in ACTIVE_STATES)
        if boletos:
            boletos._write_off()
            boletos.move_id._rbm_reset_boleto_pdf()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_issue_boletos(self):
        """Issue the boletos of posted customer invoices (button)."""
        check_staff_access(self, "read")
        invalid = self.filtered(lambda m: m.state != "posted" or m.move_type != "out_invoice")
        if invalid:
            raise UserError(
                _(
                    "Boletos are issued for posted customer invoices only (%(moves)s).",
                    moves=", ".join(invalid.mapped("display_name")),
                )
            )
        boletos = self._rbm_issue_boletos(automatic=False)
        if not boletos:
            raise UserError(_("Every open installment of these invoices already has a boleto."))
        return self.action_rbm_view_boletos()

    def action_rbm_view_boletos(self):
        check_staff_access(self, "read")
        action = self.env["ir.actions.act_window"]._for_xml_id("rbm_dunning.rbm_boleto_action")
        action["domain"] = [("move_id", "in", self.ids)]
        action["context"] = {"create": False}
        return action

    def action_rbm_print_boletos(self):
        check_staff_access(self, "read")
        self.ensure_one()
        boletos = self._rbm_get_boletos_to_print()
        if not boletos:
            raise UserError(
                _("Invoice %(invoice)s has no boleto to print.", invoice=self.display_name)
            )
        return self.env.ref("rbm_dunning.action_report_boleto").report_action(boletos)

    def action_rbm_issue_pix(self):
        """Issue the Pix code of posted customer invoices (button)."""
        check_staff_access(self, "read")
        self._rbm_issue_pix(force=True)

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
    # BOLETOS
    # ------------------------------------------------------------

    def _rbm_get_collection_account(self, defaults):
        """Collection account of this invoice's boletos, or False.
        ``defaults`` maps a company to its first collection account."""
        self.ensure_one()
        return (
            self.rbm_collection_account_id
            or self.rbm_contract_id.rbm_collection_account_id
            or defaults.get(self.company_id, False)
        )

    def _rbm_wants_boletos(self):
        """Whether posting issues boletos automatically."""
        self.ensure_one()
        return bool(self.rbm_collection_account_id) or (
            self.rbm_contract_id.payment_mode == "boleto"
        )

    def _rbm_issue_boletos(self, automatic):
        """Issue a boleto for every open receivable installment of the posted
        customer invoices in ``self`` (with ``automatic``, only of invoices
        paid by boleto), batched for the whole recordset. Returns the boletos."""
        Boleto = self.env["rbm.boleto"]
        moves = self.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and (not automatic or m._rbm_wants_boletos())
            )
        )
        if not moves:
            return Boleto
        Account = self.env["rbm.collection.account"].sudo()
        defaults = {}
        for account in Account.search(
            [("company_id", "in", moves.company_id.ids)], order="sequence, id"
        ):
            defaults.setdefault(account.company_id, account)
        lines_by_account = defaultdict(lambda: self.env["account.move.line"])
        skipped = defaultdict(lambda: self.env["account.move"])
        unassigned = defaultdict(lambda: self.env["account.move"])
        for move in moves:
            account = move._rbm_get_collection_account(defaults)
            if not account:
                skipped[_("no collection account")] |= move
                continue
            if move.currency_id != account.currency_id:
                skipped[_("boletos are in %(currency)s", currency=account.currency_id.name)] |= move
                continue
            if not move.rbm_collection_account_id:
                unassigned[account] |= move
            lines_by_account[account.sudo()] |= move.line_ids.filtered(
                lambda line: (
                    line.display_type == "payment_term"
                    and line.account_id.account_type == "asset_receivable"
                    and not line.reconciled
                    and line.amount_residual_currency > 0
                )
            )
        if skipped and not automatic:
            raise UserError(
                "\n".join(
                    f"{', '.join(invoices.mapped('name'))}: {reason}."
                    for reason, invoices in skipped.items()
                )
            )
        for reason, invoices in skipped.items():
            for move in invoices:
                move.message_post(
                    body=_("No boleto was issued for this invoice: %(reason)s.", reason=reason)
                )
        boletos = Boleto._issue_for_lines(lines_by_account)
        # the invoice shows the account its boletos were issued on
        for account, invoices in unassigned.items():
            invoices.sudo().rbm_collection_account_id = account
        boletos.move_id._rbm_reset_boleto_pdf()
        return boletos

    def _rbm_get_boletos_to_print(self):
        """Boletos the customer can pay with."""
        self.ensure_one()
        return self.rbm_boleto_ids.filtered(lambda b: b.state in PAYABLE_STATES)

    def _rbm_reset_boleto_pdf(self):
        """Drop the boleto PDF of the invoices: their boletos changed."""
        pdfs = self.sudo().rbm_boleto_pdf_id
        if pdfs:
            self.sudo().rbm_boleto_pdf_id = False
            pdfs.unlink()

    def _rbm_ensure_boleto_pdf(self):
        """The boleto PDF of each invoice as an attachment (rendered once,
        until its boletos change). Returns the attachments."""
        attachments = self.env["ir.attachment"]
        for move in self:
            boletos = move.sudo()._rbm_get_boletos_to_print()
            if not boletos:
                continue
            if not move.rbm_boleto_pdf_id:
                content, _report_type = (
                    self.env["ir.actions.report"]
                    .sudo()
                    ._render_qweb_pdf("rbm_dunning.action_report_boleto", boletos.ids)
                )
                move.sudo().rbm_boleto_pdf_id = (
                    self.env["ir.attachment"]
                    .sudo()
                    .create(
                        {
                            "name": move._rbm_boleto_pdf_filename(),
                            "raw": content,
                            "mimetype": "application/pdf",
                            "res_model": move._name,
                            "res_id": move.id,
                        }
                    )
                )
            attachments |= move.rbm_boleto_pdf_id
        return attachments

    def _rbm_boleto_pdf_filename(self):
        self.ensure_one()
        return "Boleto-{}.pdf".format((self.name or "").replace("/", "_"))

    # ------------------------------------------------------------
    # PIX
    # ------------------------------------------------------------

    def _rbm_wants_pix(self):
        self.ensure_one()
        return self.move_type == "out_invoice" and self.rbm_contract_id.payment_mode == "pix"

    def _rbm_issue_pix(self, force=False):
        """Give the posted customer invoices paid by Pix (every one with
        ``force``) a transaction ID and a BR Code for their amount due. The
        key is the Pix key of the invoice's collection account."""
        moves = self.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and not m.rbm_pix_payload
                and (force or m._rbm_wants_pix())
            )
        )
        if not moves:
            return moves
        Account = self.env["rbm.collection.account"].sudo()
        defaults = {}
        for account in Account.search(
            [("company_id", "in", moves.company_id.ids), ("pix_key", "!=", False)],
            order="sequence, id",
        ):
            defaults.setdefault(account.company_id, account)
        issued = self.env["account.move"]
        for move in moves:
            account = move._rbm_get_collection_account(defaults)
            if not account or not account.pix_key:
                account = defaults.get(move.company_id)
            reason = move._rbm_pix_refusal(account)
            if reason:
                if force:
                    raise UserError(reason)
                move.message_post(body=reason)
                continue
            txid = move.rbm_pix_txid or _new_txid()
            move.sudo().write(
                {
                    "rbm_collection_account_id": move.rbm_collection_account_id.id or account.id,
                    "rbm_pix_txid": txid,
                    "rbm_pix_payload": account.sudo()._get_pix_payload(
                        _decimal(move.amount_residual, move.currency_id), txid
                    ),
                }
            )
            issued |= move
        return issued

    def _rbm_pix_refusal(self, account):
        """Why no Pix code can be issued for this invoice with ``account``
        (what to configure), or False."""
        self.ensure_one()
        if self.currency_id.name != "BRL":
            return _(
                "No Pix code was issued for invoice %(invoice)s: Pix charges only amounts in "
                "reais, and the invoice is in %(currency)s.",
                invoice=self.display_name,
                currency=self.currency_id.name,
            )
        if self.amount_residual <= 0:
            return _(
                "No Pix code was issued for invoice %(invoice)s: nothing is left to pay on it.",
                invoice=self.display_name,
            )
        if not account:
            return _(
                "No Pix code was issued for invoice %(invoice)s: company %(company)s has no "
                "collection account with a Pix key. Add one in Subscriptions › Collection › "
                "Collection Accounts (field Pix Key).",
                invoice=self.display_name,
                company=self.company_id.name,
            )
        return False

    def _rbm_get_pix_qr_image(self, size=400):
        """Pix QR code as a PNG data URI."""
        self.ensure_one()
        if not self.rbm_pix_payload:
            return False
        png = self.env["ir.actions.report"].barcode(
            "QR", self.rbm_pix_payload, width=size, height=size, barLevel="M", quiet=0
        )
        return "data:image/png;base64," + base64.b64encode(png).decode()

    def _rbm_show_pix(self):
        """Whether the customer is offered the invoice's Pix code."""
        self.ensure_one()
        return bool(self.rbm_pix_payload) and self.payment_state in ("not_paid", "partial")

    # ------------------------------------------------------------
    # DIRECT DEBIT
    # ------------------------------------------------------------

    def _rbm_assign_debit_mandates(self):
        """Contract invoices paid by direct debit take the contract's mandate,
        or the customer's active one (batched)."""
        moves = self.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and not m.rbm_debit_mandate_id
                and m.rbm_contract_id.payment_mode == "direct_debit"
            )
        )
        if not moves:
            return
        Mandate = self.env["rbm.debit.mandate"].sudo()
        fallback = {}
        for company in moves.company_id:
            fallback.update(
                Mandate._get_active_for_partners(
                    moves.filtered(lambda m, c=company: m.company_id == c).commercial_partner_id,
                    company,
                )
            )
        for move in moves:
            mandate = move._rbm_get_debit_mandate(fallback)
            if mandate:
                move.sudo().rbm_debit_mandate_id = mandate

    def _rbm_get_debit_mandate(self, fallback):
        """The active mandate debiting this invoice: its own, its contract's,
        or the customer's (``fallback``: commercial partner -> mandate)."""
        self.ensure_one()
        for mandate in (self.rbm_debit_mandate_id, self.rbm_contract_id.rbm_debit_mandate_id):
            if mandate.state == "active":
                return mandate
        if self.rbm_contract_id.payment_mode == "direct_debit" or self.rbm_debit_mandate_id:
            return fallback.get(self.commercial_partner_id, False)
        return False

    # ------------------------------------------------------------
    # SAVED CARD
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

    # ------------------------------------------------------------
    # COLLECTION
    # ------------------------------------------------------------

    def _rbm_get_payment_mode(self):
        """How the invoice is meant to be paid: the contract's method, else
        boleto when it has boletos, else a plain invoice."""
        self.ensure_one()
        if self.rbm_contract_id.payment_mode:
            return self.rbm_contract_id.payment_mode
        return "boleto" if self.rbm_boleto_ids else "invoice"

    def _rbm_days_overdue(self):
        """Days since the invoice's due date (zero or negative: not late)."""
        self.ensure_one()
        if not self.invoice_date_due:
            return 0
        return (fields.Date.context_today(self) - self.invoice_date_due).days

    def _rbm_collection_attachments(self):
        """What a collection email carries: the boleto PDF when the invoice has
        boletos still payable."""
        self.ensure_one()
        return self._rbm_ensure_boleto_pdf()

    @api.model
    def _rbm_collection_reactivate_settled(self, today=None, contracts=None):
        """Reactivate contracts suspended for non-payment that owe nothing
        overdue any more. Returns the contracts reactivated."""
        today = today or fields.Date.context_today(self)
        Contract = self.env["rbm.contract"].sudo()
        if contracts is None:
            contracts = Contract.search(
                [("state", "=", "suspended"), ("rbm_suspended_by_collection", "=", True)]
            )
        else:
            contracts = contracts.sudo().filtered(
                lambda c: c.state == "suspended" and c.rbm_suspended_by_collection
            )
        if not contracts:
            return Contract
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT DISTINCT m.rbm_contract_id
              FROM account_move_line aml
              JOIN account_move m ON m.id = aml.move_id
             WHERE m.rbm_contract_id = ANY(%s)
               AND m.move_type = 'out_invoice' AND m.state = 'posted'
               AND aml.display_type = 'payment_term'
               AND NOT aml.reconciled AND aml.amount_residual > 0
               AND aml.date_maturity < %s
            """,
            [contracts.ids, today],
        )
        owing = {row[0] for row in self.env.cr.fetchall()}
        settled = contracts.filtered(lambda c: c.id not in owing)
        if settled:
            settled._reactivate(date=today)
            settled.rbm_suspended_by_collection = False
            for contract in settled:
                contract.message_post(
                    body=Markup("<p>%s</p>") % _("Reactivated: every overdue invoice is paid.")
                )
        return settled


def _new_txid():
    """25 letters and digits (the most a static BR Code carries), random
    after a fixed prefix so that statement texts are easy to search."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    size = pix.MAX_TXID - len(TXID_PREFIX)
    return TXID_PREFIX + "".join(secrets.choice(alphabet) for _i in range(size))
