from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_round

from odoo.addons.rbm_recurring.engine import money, periods
from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import boleto as boleto_engine
from ..engine import cnab, collection, pix
from ..engine.checkdigits import validate_document

# collection account field of each engine setting / CNAB header field
_SETTING_FIELDS = {
    "branch": "branch",
    "branch_digit": "branch_digit",
    "account": "account_number",
    "account_digit": "account_digit",
    "portfolio": "portfolio",
    "agreement": "agreement",
    "cnab_agreement": "cnab_agreement",
    "post": "post",
    "sequence": "next_our_number",
    "company_name": "company_id",
}


BANK_SELECTION = [
    (code, f"{code} - {layout.name}") for code, layout in sorted(boleto_engine.BANKS.items())
]


class RbmCollectionAccount(models.Model):
    _name = "rbm.collection.account"
    _description = "Collection Account"
    _inherit = ["mail.thread"]
    _order = "sequence, id"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_bank_id = fields.Many2one(
        "res.partner.bank",
        string="Bank Account",
        required=True,
        check_company=True,
        domain="[('partner_id', '=', company_partner_id)]",
        help="The company's bank account that receives the boletos.",
    )
    company_partner_id = fields.Many2one(related="company_id.partner_id")
    journal_id = fields.Many2one(
        "account.journal",
        string="Bank Journal",
        required=True,
        check_company=True,
        domain="[('type', '=', 'bank')]",
        help="Journal of the payments created from return files.",
    )
    bank_code = fields.Selection(
        BANK_SELECTION, string="Bank", required=True, tracking=True, help="FEBRABAN bank code."
    )
    branch = fields.Char(string="Agency", required=True, help="Agency (agência), digits only.")
    branch_digit = fields.Char(string="Agency Check Digit", size=1)
    account_number = fields.Char(string="Account", required=True, help="Digits only.")
    account_digit = fields.Char(string="Account Check Digit", size=1)
    portfolio = fields.Char(string="Portfolio", help="Carteira (e.g. 109 at Itaú, 17 at BB).")
    agreement = fields.Char(
        string="Beneficiary Code",
        help="Convênio / código do beneficiário (cedente) given by the bank: at Banco do "
        "Brasil its number of digits (4, 6 or 7) chooses the boleto layout, at Caixa 6 or 7 "
        "digits, at Itaú the client code of the carteiras with seu número.",
    )
    post = fields.Char(string="Post (Sicredi)", help="Sicredi posto (2 digits).")
    cnab_agreement = fields.Char(
        string="Agreement in CNAB files",
        help="Agreement code written in the CNAB file headers (código de transmissão, "
        "código da empresa...) when it differs from the beneficiary code.",
    )
    document_species = fields.Selection(
        [
            ("DS", "DS - Duplicata de Serviço (services)"),
            ("DM", "DM - Duplicata Mercantil (goods)"),
        ],
        string="Document Species",
        required=True,
        default="DS",
        tracking=True,
        help="Espécie do título printed on the boletos and sent in the remittance: DS when the "
        "company bills services (subscriptions), DM when it sells goods.",
    )
    layout = fields.Selection(
        [("cnab240", "CNAB 240"), ("cnab400", "CNAB 400")],
        string="CNAB Layout",
        required=True,
        default="cnab240",
    )
    next_our_number = fields.Integer(
        string="Next Our Number",
        default=1,
        copy=False,
        help="Sequence of the next nosso número (reserved with a row lock).",
    )
    next_nsa = fields.Integer(
        string="Next File Sequence",
        default=1,
        copy=False,
        help="NSA of the next remittance file.",
    )
    interest_rate = fields.Float(
        string="Interest (% a month)", default=1.0, digits=(5, 4), help="Juros de mora."
    )
    fine_rate = fields.Float(string="Fine (%)", default=2.0, digits=(5, 2), help="Multa.")
    discount_rate = fields.Float(string="Discount (%)", digits=(5, 2))
    discount_days = fields.Integer(
        string="Discount Days",
        help="Discount for payments up to this many days before the due date.",
    )
    protest_days = fields.Integer(help="Protest after this many days past due (0: never).")
    write_off_days = fields.Integer(
        help="The bank writes the boleto off this many days past due (0: bank default)."
    )
    instructions = fields.Text(help="Extra instructions printed on the boleto.")
    pix_key = fields.Char(
        string="Pix Key",
        help="Key printed as a QR code on the boletos (boleto híbrido). Leave empty "
        "for boletos without Pix.",
    )
    interest_account_id = fields.Many2one(
        "account.account",
        string="Interest and Fine Account",
        required=True,
        check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        help="Income account of the interest and fines received with late payments.",
    )
    fee_account_id = fields.Many2one(
        "account.account",
        string="Bank Fee Account",
        required=True,
        check_company=True,
        domain="[('account_type', 'in', ('expense', 'expense_direct_cost'))]",
        help="Expense account of the bank fees (tarifas) reported in return files.",
    )
    discount_account_id = fields.Many2one(
        "account.account",
        string="Discount Account",
        check_company=True,
        domain="[('account_type', 'in', ('expense', 'expense_direct_cost', 'income'))]",
        help="Account of the discounts and rebates granted in return files; without it "
        "they stay open on the invoice.",
    )
    last_return_date = fields.Datetime(readonly=True, copy=False)
    boleto_ids = fields.One2many("rbm.boleto", "collection_account_id", string="Boletos")
    boleto_count = fields.Integer(compute="_compute_counts")
    pending_count = fields.Integer(string="Instructions to Send", compute="_compute_counts")
    cnab_file_ids = fields.One2many("rbm.cnab.file", "collection_account_id", string="CNAB Files")
    cnab_file_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        (
            "next_our_number_positive",
            "CHECK(next_our_number > 0)",
            "The next our number must be positive.",
        ),
        ("next_nsa_positive", "CHECK(next_nsa > 0)", "The next file sequence must be positive."),
    ]

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    def _compute_counts(self):
        Boleto = self.env["rbm.boleto"]
        boletos = dict(
            Boleto._read_group(
                [("collection_account_id", "in", self.ids)], ["collection_account_id"], ["__count"]
            )
        )
        pending = dict(
            Boleto._read_group(
                [("collection_account_id", "in", self.ids), ("pending_instruction", "!=", False)],
                ["collection_account_id"],
                ["__count"],
            )
        )
        files = dict(
            self.env["rbm.cnab.file"]._read_group(
                [("collection_account_id", "in", self.ids)], ["collection_account_id"], ["__count"]
            )
        )
        for account in self:
            account.boleto_count = boletos.get(account, 0)
            account.pending_count = pending.get(account, 0)
            account.cnab_file_count = files.get(account, 0)

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains(
        "bank_code",
        "branch",
        "branch_digit",
        "account_number",
        "account_digit",
        "portfolio",
        "agreement",
        "post",
        "cnab_agreement",
        "layout",
        "next_our_number",
        "company_id",
    )
    def _check_bank_settings(self):
        for account in self:
            account._validate_settings()

    @api.constrains(
        "interest_rate",
        "fine_rate",
        "discount_rate",
        "discount_days",
        "protest_days",
        "write_off_days",
    )
    def _check_instructions(self):
        for account in self:
            for name in ("interest_rate", "fine_rate", "discount_rate"):
                if not 0 <= account[name] < 100:
                    raise ValidationError(
                        _(
                            "%(field)s must be between 0 and 100, got %(value)s.",
                            field=account._field_label(name),
                            value=account[name],
                        )
                    )
            for name in ("discount_days", "protest_days", "write_off_days"):
                if not 0 <= account[name] <= 99:
                    raise ValidationError(
                        _(
                            "%(field)s must be between 0 and 99 days, got %(value)s.",
                            field=account._field_label(name),
                            value=account[name],
                        )
                    )

    @api.constrains("pix_key")
    def _check_pix_key(self):
        for account in self.filtered("pix_key"):
            try:
                pix.key_type(account.pix_key)
            except pix.PixError as error:
                raise ValidationError(
                    _("Pix Key: %(error)s", error=getattr(error, "message", str(error)))
                ) from None

    @api.constrains("journal_id", "partner_bank_id")
    def _check_journal(self):
        for account in self:
            if account.journal_id.type != "bank":
                raise ValidationError(
                    _(
                        "Bank Journal: %(journal)s is not a bank journal.",
                        journal=account.journal_id.display_name,
                    )
                )
            if account.partner_bank_id.partner_id != account.company_id.partner_id:
                raise ValidationError(
                    _(
                        "Bank Account: %(bank)s does not belong to %(company)s.",
                        bank=account.partner_bank_id.display_name,
                        company=account.company_id.display_name,
                    )
                )

    def _validate_settings(self):
        """Every setting checked with the engine (boleto free field, CNAB file
        header); ValidationError naming the field."""
        self.ensure_one()
        bank = self.bank_code
        variant = collection.variant_of(bank, self._settings())
        if self.layout not in collection.layouts_of(bank, variant):
            raise ValidationError(
                _(
                    "CNAB Layout: %(layout)s is not available for bank %(bank)s.",
                    layout=dict(self._fields["layout"].selection)[self.layout],
                    bank=bank,
                )
            )
        limit = collection.sequence_limit(bank, self._settings())
        if self.next_our_number > limit:
            raise ValidationError(
                _(
                    "Next Our Number: %(number)s exceeds %(limit)s, the largest our number of "
                    "bank %(bank)s.",
                    number=self.next_our_number,
                    limit=limit,
                    bank=bank,
                )
            )
        for name in ("branch_digit", "account_digit"):
            value = self[name] or ""
            if value and not (value.isascii() and value.isalnum()):
                raise ValidationError(
                    _(
                        "%(field)s: must be one digit or letter, got %(value)s.",
                        field=self._field_label(name),
                        value=value,
                    )
                )
        company = self.company_id
        if company.currency_id.name != "BRL":
            raise ValidationError(
                _(
                    "Company: boletos are in Brazilian reais, %(company)s keeps its books in "
                    "%(currency)s.",
                    company=company.display_name,
                    currency=company.currency_id.name,
                )
            )
        try:
            validate_document(company.vat or "")
        except ValueError as error:
            raise ValidationError(
                _(
                    "Tax ID of company %(company)s (CNPJ or CPF, printed on the boletos and the "
                    "CNAB files): %(error)s",
                    company=company.display_name,
                    error=self.env["res.partner"]._rbm_document_reason(error),
                )
            ) from None
        try:
            values = boleto_engine.bank_values(
                bank, **collection.boleto_fields(bank, self._settings(), 1, fields.Date.today())
            )
        except boleto_engine.BoletoError as error:
            name = collection.source_of(bank, error.field) or error.field
            raise ValidationError(self._error_message(name, error.message)) from None
        if bank == "341" and self.account_digit and self.account_digit != values["account_digit"]:
            raise ValidationError(
                _(
                    "Account Check Digit: Itaú's digit of agency %(branch)s and account "
                    "%(account)s is %(digit)s, not %(given)s.",
                    branch=values["branch"],
                    account=values["account"],
                    digit=values["account_digit"],
                    given=self.account_digit,
                )
            )
        try:
            self.env["rbm.cnab.file"]._render_remittance(self, [], 1, fields.Datetime.now())
        except cnab.CnabError as error:
            name = error.field
            if name == "agreement" and self.cnab_agreement:
                name = "cnab_agreement"
            raise ValidationError(self._error_message(name, error.message)) from None

    def _error_message(self, name, message):
        """``Field label: message`` for an engine error about setting ``name``."""
        field_name = _SETTING_FIELDS.get(name, name)
        label = self._field_label(field_name) if field_name in self._fields else field_name
        return _("%(field)s: %(message)s", field=label, message=message)

    def _field_label(self, name):
        return self._fields[name].get_description(self.env)["string"]

    def _settings(self):
        self.ensure_one()
        return {
            "branch": (self.branch or "").strip(),
            "account": (self.account_number or "").strip(),
            "portfolio": (self.portfolio or "").strip(),
            "agreement": (self.agreement or "").strip(),
            "post": (self.post or "").strip(),
        }

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        locked = {"bank_code", "layout"} & set(vals)
        if locked and self.boleto_ids:
            for account in self:
                if any(account[name] != vals[name] for name in locked) and account.boleto_ids:
                    raise UserError(
                        _(
                            "Collection account %(account)s has boletos: its bank and layout "
                            "cannot change.",
                            account=account.display_name,
                        )
                    )
        return super().write(vals)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_boletos(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("rbm_dunning.rbm_boleto_action")
        action["domain"] = [("collection_account_id", "=", self.id)]
        action["context"] = {"default_collection_account_id": self.id}
        return action

    def action_view_cnab_files(self):
        check_staff_access(self, "read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("rbm_dunning.rbm_cnab_file_action")
        action["domain"] = [("collection_account_id", "=", self.id)]
        return action

    def action_generate_remittance(self):
        check_staff_access(self, "read")
        self.ensure_one()
        cnab_file = self.env["rbm.cnab.file"]._generate_remittance(self)
        if not cnab_file:
            raise UserError(
                _(
                    "Collection account %(account)s has no boleto instruction to send.",
                    account=self.display_name,
                )
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": "rbm.cnab.file",
            "res_id": cnab_file.id,
            "view_mode": "form",
        }

    def action_import_return(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Import Return File"),
            "res_model": "rbm.cnab.import.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_collection_account_id": self.id},
        }

    # ------------------------------------------------------------
    # BUSINESS: numbers
    # ------------------------------------------------------------

    def _reserve_counter(self, column, count):
        """First of ``count`` consecutive numbers of ``column`` (next_our_number
        or next_nsa), reserved under a row lock so that concurrent transactions
        never get the same number."""
        self.ensure_one()
        assert column in ("next_our_number", "next_nsa")
        self.flush_recordset([column])
        self.env.cr.execute(
            f"UPDATE rbm_collection_account SET {column} = {column} + %s "
            f"WHERE id = %s RETURNING {column} - %s",
            (count, self.id, count),
        )
        first = self.env.cr.fetchone()[0]
        self.invalidate_recordset([column])
        return first

    # ------------------------------------------------------------
    # BUSINESS: boletos
    # ------------------------------------------------------------

    def _make_boleto_codes(self, sequence, issue_date, due_date, amount):
        """Engine boleto of ``sequence`` for this account."""
        self.ensure_one()
        fields_ = collection.boleto_fields(self.bank_code, self._settings(), sequence, issue_date)
        return boleto_engine.make_boleto(self.bank_code, due_date, amount, **fields_)

    def _get_pix_payload(self, amount, txid):
        """Static BR Code for a boleto híbrido, or False without a Pix key."""
        self.ensure_one()
        if not self.pix_key:
            return False
        company = self.company_id
        name = _fit_words(company.name or "", pix.MAX_NAME)
        city = _fit_words(company.city or company.partner_id.city or "BRASIL", pix.MAX_CITY)
        return pix.static_payload(self.pix_key, name, city, amount=amount, txid=txid)

    def _get_default_instruction_lines(self, boleto):
        """Instructions printed on the boleto, amounts and dates in the
        Brazilian format (the boleto is a Brazilian document)."""
        self.ensure_one()
        lines = []
        if self.fine_rate:
            lines.append(
                _(
                    "After the due date, charge a fine of %(rate)s%% (R$ %(amount)s).",
                    rate=_format_rate(self.fine_rate),
                    amount=_br_amount(boleto.amount * self.fine_rate / 100),
                )
            )
        if self.interest_rate:
            lines.append(
                _(
                    "After the due date, charge interest of %(rate)s%% a month "
                    "(R$ %(amount)s a day).",
                    rate=_format_rate(self.interest_rate),
                    amount=_br_amount(self._daily_interest(boleto.amount)),
                )
            )
        if self.discount_rate:
            lines.append(
                _(
                    "Discount of R$ %(amount)s for payment until %(date)s.",
                    amount=_br_amount(self._discount_amount(boleto.amount)),
                    date=_br_date(boleto.due_date - timedelta(days=self.discount_days)),
                )
            )
        if self.protest_days:
            lines.append(_("Protest %(days)s days after the due date.", days=self.protest_days))
        if self.write_off_days:
            lines.append(
                _(
                    "Do not accept payment %(days)s days after the due date.",
                    days=self.write_off_days,
                )
            )
        if self.instructions:
            lines.extend(self.instructions.splitlines())
        return lines

    def _daily_interest(self, amount):
        return float_round(amount * self.interest_rate / 100 / 30, precision_digits=2)

    def _discount_amount(self, amount):
        return float_round(amount * self.discount_rate / 100, precision_digits=2)

    # ------------------------------------------------------------
    # BUSINESS: what the bank files write of the account
    # ------------------------------------------------------------

    def _get_beneficiary(self):
        self.ensure_one()
        company = self.company_id
        extra = {}
        if self.bank_code == "033":
            extra = {
                "collection_account": (self.account_number or "").strip(),
                "collection_account_digit": self.account_digit or "",
            }
        return cnab.Beneficiary(
            bank=self.bank_code,
            name=company.name or "",
            document=company.vat or company.partner_id.vat or "",
            branch=(self.branch or "").strip(),
            branch_digit=self.branch_digit or "",
            account=(self.account_number or "").strip(),
            account_digit=self.account_digit or "",
            agreement=(self.cnab_agreement or self.agreement or "").strip(),
            portfolio=(self.portfolio or "").strip(),
            extra=extra,
            variant=self._get_layout_variant(),
        )

    def _get_layout_variant(self):
        """Free-field variant of the bank's boleto that the settings choose
        (Banco do Brasil convênio length, Caixa beneficiary code length, Itaú
        seu-número carteiras); "" for the bank's usual layout."""
        self.ensure_one()
        return collection.variant_of(self.bank_code, self._settings())

    # ------------------------------------------------------------
    # BUSINESS: locks
    # ------------------------------------------------------------

    def _lock(self):
        """Row lock on the account: the CNAB files of one account are written
        one at a time. A concurrent transaction waits, and when the first one
        changed the row (NSA, last return date), it fails to serialize and is
        retried on a fresh snapshot, where the work is already done."""
        self.ensure_one()
        self.env.cr.execute(
            "SELECT id FROM rbm_collection_account WHERE id = %s FOR UPDATE", (self.id,)
        )

    def _lock_for_return(self):
        """``_lock`` that also changes the row, so that a concurrent import of
        the same account is retried and sees the occurrences logged here."""
        self.ensure_one()
        self._lock()
        self.env.cr.execute(
            "UPDATE rbm_collection_account SET last_return_date = now() at time zone 'UTC'"
            " WHERE id = %s",
            (self.id,),
        )
        self.invalidate_recordset(["last_return_date"])

    def _get_outstanding_account(self, payment_type):
        """Account of the payments' liquidity lines in this journal."""
        self.ensure_one()
        lines = (
            self.journal_id.inbound_payment_method_line_ids
            if payment_type == "inbound"
            else self.journal_id.outbound_payment_method_line_ids
        )
        account = lines[:1].payment_account_id
        if not account:
            account = (
                self.env["account.payment"]
                .with_company(self.company_id)
                .new({"journal_id": self.journal_id.id, "company_id": self.company_id.id})
                ._get_outstanding_account(payment_type)
            )
        return account


def _fit_words(text, size):
    """``text`` cut at a word boundary to at most ``size`` characters."""
    text = " ".join((text or "").split())
    if len(text) <= size:
        return text
    cut = text[:size].rsplit(" ", 1)[0]
    return cut or text[:size]


_br_date = periods.format_br_date
_br_amount = money.format_br_amount
_format_rate = money.format_br_rate
