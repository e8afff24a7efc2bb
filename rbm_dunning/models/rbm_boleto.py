import base64
import re
from datetime import timedelta
from decimal import Decimal

from reportlab.graphics.barcode import createBarcodeDrawing

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import sql

from odoo.addons.rbm_recurring.engine import money
from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import boleto as boleto_engine
from ..engine import cnab, collection
from ..engine.checkdigits import format_document, validate_document
from ..engine.cnab_layouts import MOVEMENTS, PROTEST_400
from .rbm_collection_account import _br_amount, _br_date

# states in which a boleto stands for its installment (one at most per line)
ACTIVE_STATES = ("draft", "in_remessa", "registered", "paid", "protested")
# states in which the customer can pay with it
PAYABLE_STATES = ("draft", "in_remessa", "registered")
# banks that print the beneficiary code (not the account) next to the agency
_AGREEMENT_AS_CODE = ("033", "104", "748", "756")


class RbmBoleto(models.Model):
    _name = "rbm.boleto"
    _description = "Boleto"
    _inherit = ["mail.thread"]
    _order = "due_date desc, id desc"
    _rec_name = "our_number"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    collection_account_id = fields.Many2one(
        "rbm.collection.account",
        string="Collection Account",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related="collection_account_id.company_id", store=True, index=True, precompute=True
    )
    bank_code = fields.Selection(related="collection_account_id.bank_code")
    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        ondelete="restrict",
        index=True,
        check_company=True,
        readonly=True,
    )
    move_line_id = fields.Many2one(
        "account.move.line",
        string="Installment",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
        help="Receivable line (installment) of the invoice paid by this boleto.",
    )
    partner_id = fields.Many2one(
        "res.partner", string="Payer", required=True, readonly=True, index=True
    )
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    amount = fields.Monetary(required=True, readonly=True, tracking=True)
    issue_date = fields.Date(required=True, readonly=True)
    due_date = fields.Date(
        required=True,
        tracking=True,
        help="Changing it on an issued boleto recomputes its barcode and sends a due-date "
        "change (alterar vencimento) in the next remittance.",
    )
    our_number_sequence = fields.Integer(readonly=True, required=True, copy=False)
    our_number = fields.Char(string="Our Number", readonly=True, required=True, copy=False)
    our_number_key = fields.Char(
        readonly=True,
        required=True,
        copy=False,
        index=True,
        help="The number that identifies this boleto in the bank's return files.",
    )
    barcode = fields.Char(readonly=True, copy=False)
    typeable_line = fields.Char(string="Typeable Line", readonly=True, copy=False)
    pix_payload = fields.Char(
        string="Pix Copy and Paste", readonly=True, copy=False, help="BR Code (boleto híbrido)."
    )
    state = fields.Selection(
        [
            ("draft", "To Send"),
            ("in_remessa", "In Remittance"),
            ("registered", "Registered"),
            ("paid", "Paid"),
            ("written_off", "Written Off"),
            ("protested", "Protested"),
            ("rejected", "Rejected"),
        ],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        index=True,
    )
    pending_instruction = fields.Selection(
        [
            ("entry", "Entry"),
            ("write_off", "Write-off"),
            ("change_due_date", "Due Date Change"),
        ],
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Instruction the next remittance file sends to the bank.",
    )
    rejection_reasons = fields.Char(readonly=True, copy=False)
    remittance_problem = fields.Char(
        string="Left Out of the Remittance",
        readonly=True,
        copy=False,
        help="Why the last remittance could not carry this boleto's instruction (the other "
        "titles were sent): correct it and generate the next remittance.",
    )
    payment_id = fields.Many2one("account.payment", readonly=True, copy=False)
    paid_date = fields.Date(readonly=True, copy=False)
    amount_paid = fields.Monetary(readonly=True, copy=False)
    occurrence_ids = fields.One2many("rbm.cnab.occurrence", "boleto_id", string="Occurrences")
    last_remittance_id = fields.Many2one("rbm.cnab.file", readonly=True, copy=False)

    _sql_constraints = [
        (
            "our_number_uniq",
            "unique(collection_account_id, our_number_sequence)",
            "An our number is used by one boleto of a collection account only.",
        ),
        (
            "our_number_key_uniq",
            "unique(collection_account_id, our_number_key)",
            "An our number is used by one boleto of a collection account only.",
        ),
    ]

    def init(self):
        super().init()
        # one active boleto per installment, whatever runs concurrently
        if not sql.index_exists(self.env.cr, "rbm_boleto_active_move_line_uniq"):
            self.env.cr.execute(
                """
                CREATE UNIQUE INDEX rbm_boleto_active_move_line_uniq
                    ON rbm_boleto (move_line_id)
                 WHERE move_line_id IS NOT NULL AND state IN %s
                """,
                [ACTIVE_STATES],
            )

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("due_date")
    def _check_due_date(self):
        for boleto in self:
            if boleto.due_date < boleto_engine.FIRST_DATE:
                raise ValidationError(
                    _(
                        "Due Date of boleto %(boleto)s: %(date)s is before 2000-07-03.",
                        boleto=boleto.display_name,
                        date=boleto.due_date,
                    )
                )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        if "due_date" not in vals:
            return super().write(vals)
        new_date = fields.Date.to_date(vals["due_date"])
        changed = self.filtered(lambda b: b.due_date != new_date)
        for boleto in changed:
            if boleto.state not in PAYABLE_STATES:
                raise UserError(
                    _(
                        "The due date of boleto %(boleto)s (%(state)s) cannot change: only "
                        "boletos to send, in a remittance or registered at the bank can.",
                        boleto=boleto.display_name,
                        state=dict(self._fields["state"]._description_selection(self.env))[
                            boleto.state
                        ],
                    )
                )
        res = super().write(vals)
        for boleto in changed:
            boleto._refresh_codes()
            if boleto.state in ("in_remessa", "registered"):
                # (after the entry, when the entry is still in a file sent)
                boleto.pending_instruction = "change_due_date"
        changed.move_id._rbm_reset_boleto_pdf()
        # the accounting follows: the installment falls due on the new date
        changed.move_line_id.sudo().filtered(lambda line: not line.reconciled).with_context(
            check_move_validity=False, rbm_boleto_sync=True
        ).write({"date_maturity": new_date})
        return res

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_print(self):
        check_staff_access(self, "read")
        return self.env.ref("rbm_dunning.action_report_boleto").report_action(self)

    def action_resend(self):
        """Send a rejected boleto again (after its data was fixed)."""
        check_staff_access(self, "write")
        for boleto in self:
            if boleto.state != "rejected":
                raise UserError(
                    _(
                        "Only rejected boletos can be sent again (%(boleto)s).",
                        boleto=boleto.display_name,
                    )
                )
        self.write({"state": "draft", "pending_instruction": "entry", "rejection_reasons": False})

    def action_write_off(self):
        """Write the boletos off (baixa): at the bank too when they were sent."""
        check_staff_access(self, "write")
        self._write_off()

    def action_open_move(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.move_id._get_records_action()

    # ------------------------------------------------------------
    # BUSINESS: issue
    # ------------------------------------------------------------

    @api.model
    def _issue_for_lines(self, lines_by_account):
        """Create the boletos of receivable installments, all at once.

        ``lines_by_account`` maps a collection account to installment lines
        (``account.move.line``). Lines that already have an active boleto are
        skipped; our numbers are reserved per account under a row lock; the
        partial unique index settles any race. Returns the new boletos."""
        Boleto = self.sudo()
        lines_all = self.env["account.move.line"].concat(*lines_by_account.values())
        if not lines_all:
            return self
        taken = set(
            Boleto.search(
                [("move_line_id", "in", lines_all.ids), ("state", "in", ACTIVE_STATES)]
            ).move_line_id.ids
        )
        vals_list = []
        for account, lines in lines_by_account.items():
            lines = lines.filtered(lambda line: line.id not in taken)
            if not lines:
                continue
            first = account.sudo()._reserve_counter("next_our_number", len(lines))
            for offset, line in enumerate(
                lines.sorted(lambda line: (line.move_id.id, line.date_maturity, line.id))
            ):
                vals_list.append(self._prepare_boleto_vals(account, line, first + offset))
        return Boleto.create(vals_list).sudo(False)

    @api.model
    def _prepare_boleto_vals(self, account, line, sequence):
        move = line.move_id
        amount = line.currency_id.round(abs(line.amount_residual_currency))
        issue_date = move.invoice_date or fields.Date.context_today(self)
        due_date = line.date_maturity or move.invoice_date_due or issue_date
        codes = account._make_boleto_codes(
            sequence, issue_date, due_date, _decimal(amount, line.currency_id)
        )
        key = collection.title_key(account.bank_code, account.layout, codes.fields)
        return {
            "collection_account_id": account.id,
            "move_id": move.id,
            "move_line_id": line.id,
            "partner_id": move.commercial_partner_id.id,
            "currency_id": line.currency_id.id,
            "amount": amount,
            "issue_date": issue_date,
            "due_date": due_date,
            "our_number_sequence": sequence,
            "our_number": codes.our_number,
            "our_number_key": key,
            "barcode": codes.barcode,
            "typeable_line": codes.typeable_line,
            "pix_payload": self._prepare_pix_payload(
                account, line, _decimal(amount, line.currency_id), codes.our_number
            ),
            "state": "draft",
            "pending_instruction": "entry",
        }

    def _prepare_pix_payload(self, account, move_line, amount, our_number):
        """The Pix code of the boleto híbrido of ``move_line``: the collection
        account's static code of ``amount`` (other addons may offer a dynamic one)."""
        return account._get_pix_payload(amount, _pix_txid(our_number))

    def _refresh_codes(self):
        """Recompute barcode, typeable line and Pix payload (after a due-date change)."""
        for boleto in self:
            account = boleto.collection_account_id
            amount = _decimal(boleto.amount, boleto.currency_id)
            codes = account._make_boleto_codes(
                boleto.our_number_sequence, boleto.issue_date, boleto.due_date, amount
            )
            boleto.write(
                {
                    "barcode": codes.barcode,
                    "typeable_line": codes.typeable_line,
                    "pix_payload": boleto._prepare_pix_payload(
                        account, boleto.move_line_id, amount, codes.our_number
                    ),
                }
            )

    # ------------------------------------------------------------
    # BUSINESS: write-off and remittance
    # ------------------------------------------------------------

    def _write_off(self):
        """Write off (baixa): boletos never sent are just closed; the others
        get a write-off instruction for the next remittance. Paid boletos are
        left alone."""
        todo = self.filtered(lambda b: b.state not in ("paid", "written_off"))
        # not at the bank: entry not sent yet, or refused by the bank
        never_sent = todo.filtered(lambda b: b.state in ("draft", "rejected"))
        never_sent.write({"state": "written_off", "pending_instruction": False})
        (todo - never_sent).write({"state": "written_off", "pending_instruction": "write_off"})

    def _mark_sent(self, cnab_file):
        """After ``cnab_file`` carried the pending instructions."""
        entries = self.filtered(lambda b: b.pending_instruction == "entry")
        entries.write({"state": "in_remessa"})
        self.write(
            {
                "pending_instruction": False,
                "last_remittance_id": cnab_file.id,
                "remittance_problem": False,
            }
        )

    def _mark_left_out(self, reason):
        """The last remittance could not carry these boletos' instruction:
        they stay pending, with the ``reason``."""
        self.write({"remittance_problem": reason})

    # ------------------------------------------------------------
    # BUSINESS: what the bank answers (return files)
    # ------------------------------------------------------------

    def _mark_registered(self):
        """The bank confirmed the entry (a rejected boleto sent again too)."""
        self.filtered(lambda b: b.state in ("draft", "in_remessa", "rejected")).write(
            {"state": "registered"}
        )

    def _mark_rejected(self, reasons):
        """The bank refused the entry: boletos not registered yet are
        rejected; the others only keep the bank's ``reasons``."""
        pending = self.filtered(lambda b: b.state in ("draft", "in_remessa"))
        pending.write({"state": "rejected", "rejection_reasons": reasons})
        (self - pending).write({"rejection_reasons": reasons})

    def _mark_written_off(self):
        """The bank wrote the boletos off (baixa); a paid boleto stays paid."""
        self.filtered(lambda b: b.state != "paid").write(
            {"state": "written_off", "pending_instruction": False}
        )

    def _mark_paid(self, paid_date, amount_paid, payment=None, write_off_at_bank=False):
        """Paid on ``paid_date``, by ``payment`` when one was booked for it.
        ``write_off_at_bank``: paid by other means than the bank's collection,
        a boleto the bank holds gets a write-off (baixa) in the next
        remittance so that it cannot be paid twice."""
        for boleto in self:
            at_bank = write_off_at_bank and boleto.state in ("in_remessa", "registered")
            vals = {
                "state": "paid",
                "paid_date": paid_date,
                "amount_paid": amount_paid,
                "pending_instruction": "write_off" if at_bank else False,
            }
            if payment is not None:
                vals["payment_id"] = payment.id
            boleto.write(vals)

    def _prepare_cnab_title(self):
        """``cnab.Title`` of this boleto's pending instruction. ValueError (or
        UserError) naming what is wrong."""
        self.ensure_one()
        account = self.collection_account_id
        bank, layout = account.bank_code, account.layout
        values = boleto_engine.bank_values(
            bank,
            **collection.boleto_fields(
                bank, account._settings(), self.our_number_sequence, self.issue_date
            ),
        )
        our_number, digit = collection.title_ids(bank, layout, values)
        amount = _decimal(self.amount, self.currency_id)
        title = {
            "our_number": our_number,
            "our_number_digit": digit,
            "due_date": self.due_date,
            "amount": amount,
            "movement": MOVEMENTS[self.pending_instruction],
            "document_number": self._cnab_document_number(),
            "issue_date": self.issue_date,
            "company_use": f"RBM{self.id}",
            "document_kind": collection.document_kind_code(
                bank, layout, account.document_species or "DM"
            ),
        }
        if self.pending_instruction == "entry":
            title["payer"] = self._prepare_cnab_payer()
            title.update(self._prepare_cnab_instructions())
        return cnab.Title(**title)

    def _cnab_document_number(self):
        """The invoice number cut to the layout's document-number width (its end)."""
        account = self.collection_account_id
        if account.layout == "cnab400":
            width = cnab.cnab400_layout(account.bank_code, "remittance")["detail"][
                "document_number"
            ].width
        else:
            width = cnab.cnab240_layout(account.bank_code)["P"]["document_number"].width
        number = re.sub(r"[^0-9A-Za-z/-]", "", self.move_id.name or "")
        return number[-width:]

    def _prepare_cnab_payer(self):
        partner = self.partner_id
        try:
            validate_document(partner.vat or "")
        except ValueError as error:
            raise UserError(
                _(
                    "Tax ID (CPF/CNPJ) of the payer %(partner)s: %(error)s",
                    partner=partner.display_name,
                    error=self.env["res.partner"]._rbm_document_reason(error),
                )
            ) from None
        return cnab.Payer(
            name=partner.name or "",
            document=partner.vat,
            address=" ".join(filter(None, [partner.street])),
            district=partner.street2 or "",
            postal_code=partner.zip or "",
            city=partner.city or "",
            state=partner.state_id.code or "",
        )

    def _prepare_cnab_instructions(self):
        """Interest, fine, discount, protest and write-off codes of a title
        from the account's default instructions (FEBRABAN codes)."""
        account = self.collection_account_id
        next_day = self.due_date + timedelta(days=1)
        vals = {"interest_code": "3", "fine_code": "0", "protest_code": "3", "write_off_code": "2"}
        if account.interest_rate:
            vals.update(
                interest_code="1",
                interest_date=next_day,
                interest=_decimal(account._daily_interest(self.amount), self.currency_id),
            )
        if account.fine_rate:
            vals.update(fine_code="2", fine_date=next_day, fine=Decimal(str(account.fine_rate)))
        if account.discount_rate:
            vals.update(
                discount_code="1",
                discount_date=self.due_date - timedelta(days=account.discount_days),
                discount=_decimal(account._discount_amount(self.amount), self.currency_id),
            )
        if account.protest_days:
            vals.update(protest_code="1", protest_days=account.protest_days)
        if account.write_off_days:
            vals.update(write_off_code="1", write_off_days=account.write_off_days)
        if account.layout == "cnab400" and account.protest_days:
            fields_ = PROTEST_400.get(account.bank_code, {})
            vals["bank_fields"] = {
                name: value.format(days=account.protest_days) for name, value in fields_.items()
            }
        return vals

    # ------------------------------------------------------------
    # REPORT HELPERS
    # ------------------------------------------------------------

    def _get_barcode_image(self):
        """Interleaved 2 of 5 barcode as a PNG data URI: narrow bars 3 px,
        wide bars 9 px (1:3), no check digit, no bearer bars, 103 x 13 in
        proportion (FEBRABAN: 103 mm x 13 mm; the report sets the width)."""
        self.ensure_one()
        drawing = createBarcodeDrawing(
            "I2of5",
            value=self.barcode,
            checksum=0,
            bearers=0,
            quiet=0,
            barWidth=3,
            ratio=3,
            barHeight=round(405 * 3 * 13 / 103),  # 405 modules of 3 px
            humanReadable=0,
        )
        return "data:image/png;base64," + base64.b64encode(drawing.asString("png")).decode()

    def _get_pix_qr_image(self, size=400):
        """Pix QR code (Odoo's QR support) as a PNG data URI, with its quiet zone."""
        self.ensure_one()
        if not self.pix_payload:
            return False
        png = self.env["ir.actions.report"].barcode(
            "QR", self.pix_payload, width=size, height=size, barLevel="M", quiet=0
        )
        return "data:image/png;base64," + base64.b64encode(png).decode()

    def _get_report_values(self):
        """What the boleto page prints besides the record's own fields. Dates
        and amounts in the Brazilian format whatever the reader's language:
        the boleto is a Brazilian document."""
        self.ensure_one()
        account = self.collection_account_id
        company = account.company_id
        partner = self.partner_id
        # instructions in Portuguese when the language is there, as banks read them
        lang = "pt_BR" if self.env["res.lang"]._lang_get("pt_BR") else self.env.lang
        return {
            "bank_name": boleto_engine.BANKS[account.bank_code].name.split(" (")[0],
            "bank_code": f"{account.bank_code}-{collection.BANK_DIGITS[account.bank_code]}",
            "beneficiary": company.name,
            "beneficiary_document": _format_document(company.vat),
            "beneficiary_address": ", ".join(
                filter(None, [company.street, company.city, company.state_id.code, company.zip])
            ),
            "agency_code": self._format_agency_code(),
            "payer_document": _format_document(partner.vat),
            "payer_address": ", ".join(
                filter(None, [partner.street, partner.street2, partner.city, partner.state_id.code])
            ),
            "payer_zip": partner.zip or "",
            "instructions": account.with_context(lang=lang)._get_default_instruction_lines(self),
            "document_number": self.move_id.name or "",
            "document_species": account.document_species or "DM",
            "portfolio": account.portfolio or "",
            "due_date": _br_date(self.due_date),
            "issue_date": _br_date(self.issue_date),
            "processing_date": _br_date(
                self.create_date.date() if self.create_date else self.issue_date
            ),
            "amount": _br_amount(self.amount),
            "payment_place": "Pagável em qualquer banco",
            "barcode_image": self._get_barcode_image(),
            "pix_qr": self._get_pix_qr_image(),
        }

    def _format_agency_code(self):
        """Agência / código do beneficiário as the bank prints it."""
        account = self.collection_account_id
        branch = account.branch or ""
        if account.branch_digit:
            branch += f"-{account.branch_digit}"
        if account.bank_code in _AGREEMENT_AS_CODE:
            code = account.agreement or ""
            if account.bank_code == "748":
                code = f"{account.post or ''}.{code}"
        else:
            code = account.account_number or ""
            if account.account_digit:
                code += f"-{account.account_digit}"
        return f"{branch} / {code}"


def _decimal(amount, currency):
    return money.fixed(currency.round(amount), currency.decimal_places)


def _pix_txid(our_number):
    return re.sub(r"[^0-9A-Za-z]", "", our_number)[-25:] or None


def _format_document(vat):
    try:
        return format_document(vat or "")
    except ValueError:
        return vat or ""
