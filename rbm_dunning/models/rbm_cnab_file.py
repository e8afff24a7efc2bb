from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import cnab, cnab_layouts, collection


class RbmCnabFile(models.Model):
    _name = "rbm.cnab.file"
    _description = "CNAB File"
    _inherit = ["rbm.bank.file.mixin", "mail.thread"]
    _order = "file_date desc, id desc"
    _check_company_auto = True
    _line_model = "rbm.cnab.occurrence"

    layout = fields.Selection([("cnab240", "CNAB 240"), ("cnab400", "CNAB 400")], readonly=True)
    occurrence_ids = fields.One2many("rbm.cnab.occurrence", "file_id", string="Lines")
    payment_ids = fields.Many2many(
        "account.payment", compute="_compute_payment_ids", string="Payments"
    )
    payment_count = fields.Integer(compute="_compute_payment_ids")
    fee_move_id = fields.Many2one("account.move", string="Fee Entry", readonly=True, copy=False)
    left_out_note = fields.Text(
        string="Left Out",
        readonly=True,
        copy=False,
        help="Boletos whose instruction this remittance could not carry, with the reason; they "
        "stay pending for the next remittance.",
    )
    total_paid = fields.Monetary(compute="_compute_totals")
    total_fee = fields.Monetary(compute="_compute_totals")

    _sql_constraints = [
        (
            "file_hash_uniq",
            "unique(collection_account_id, direction, file_hash)",
            "This file was already imported for this collection account.",
        ),
    ]

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("direction", "nsa", "collection_account_id.name", "filename")
    def _compute_name(self):
        labels = dict(self._fields["direction"]._description_selection(self.env))
        for cnab_file in self:
            label = labels.get(cnab_file.direction, "")
            if cnab_file.direction == "remittance":
                cnab_file.name = (
                    f"{label} {cnab_file.nsa:06d} - {cnab_file.collection_account_id.name}"
                )
            else:
                reference = cnab_file.filename or cnab_file.nsa or ""
                cnab_file.name = f"{label} {reference} - {cnab_file.collection_account_id.name}"

    @api.depends("occurrence_ids.payment_id")
    def _compute_payment_ids(self):
        for cnab_file in self:
            cnab_file.payment_ids = cnab_file.occurrence_ids.payment_id
            cnab_file.payment_count = len(cnab_file.payment_ids)

    @api.depends("occurrence_ids.amount_paid", "occurrence_ids.fee")
    def _compute_totals(self):
        for cnab_file in self:
            paid = cnab_file.occurrence_ids.filtered(lambda o: o.kind == "paid" and o.payment_id)
            cnab_file.total_paid = sum(paid.mapped("amount_paid"))
            cnab_file.total_fee = sum(cnab_file.occurrence_ids.mapped("fee"))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_payments(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.payment_ids._get_records_action(name=_("Payments"))

    # ------------------------------------------------------------
    # REMITTANCE (remessa)
    # ------------------------------------------------------------

    @api.model
    def _get_remittance_boletos(self, account):
        """The boletos of ``account`` with an instruction to send."""
        return self.env["rbm.boleto"].search(
            [("collection_account_id", "=", account.id), ("pending_instruction", "!=", False)],
            order="id",
        )

    @api.model
    def _render_remittance(self, account, titles, nsa, generated_at):
        """Remittance file content (str) of ``titles`` (engine ``Title``)."""
        account.ensure_one()
        beneficiary = account._get_beneficiary()
        local = fields.Datetime.context_timestamp(self, generated_at).replace(tzinfo=None)
        if account.layout == "cnab400":
            return cnab.cnab400_remittance(beneficiary, titles, nsa, local.date())
        return cnab.cnab240_remittance(beneficiary, titles, nsa, local)

    @api.model
    def _generate_remittance(self, account):
        """Write the remittance of every boleto of ``account`` with a pending
        instruction (entry, write-off, due-date change) as a new file with the
        next NSA; boletos sent for entry move to ``in_remessa``. Returns the
        file (empty recordset when there is nothing to send).

        One boleto never blocks the others: a title that cannot be written
        (the payer's Tax ID missing or invalid, a value the layout cannot
        hold) is left out, with its reason on the boleto
        (``remittance_problem``) and on the file, and stays pending for the
        next remittance. When no title can be written, nothing is produced
        and the error names every boleto."""
        account.ensure_one()
        account._lock()
        boletos = self._get_remittance_boletos(account)
        if not boletos:
            return self
        now = fields.Datetime.now()
        titles, problems = [], {}
        for boleto in boletos:
            try:
                titles.append(boleto._prepare_cnab_title())
            except (ValueError, UserError) as error:
                problems[boleto] = _error_text(error)
        writable = boletos.filtered(lambda b: b not in problems)
        # reserved first, so that the file is written once with its number
        # (an error below rolls the counter back with the rest)
        nsa = account._reserve_counter("next_nsa", 1) if titles else None
        content = None
        try:
            content = self._render_remittance(account, titles, nsa, now) if titles else None
        except cnab.CnabError:
            # find the titles the layout cannot hold, one by one (only when
            # the file as a whole does not write)
            kept = []
            for boleto, title in zip(writable, titles, strict=True):
                try:
                    self._render_remittance(account, [title], nsa, now)
                except cnab.CnabError as error:
                    problems[boleto] = _(
                        "CNAB field %(field)s: %(message)s",
                        field=error.field,
                        message=error.message,
                    )
                else:
                    kept.append(title)
            titles = kept
            writable = writable.filtered(lambda b: b not in problems)
            if titles:
                content = self._render_remittance(account, titles, nsa, now)
        if not titles:
            raise UserError(
                _(
                    "The remittance cannot be generated:\n%(problems)s",
                    problems="\n".join(
                        f"{boleto.display_name} ({boleto.move_id.name or ''}): {message}"
                        for boleto, message in list(problems.items())[:30]
                    ),
                )
            )
        boletos = writable
        data = content.encode("latin-1")
        line_numbers = self._remittance_line_numbers(account, content)
        cnab_file = self.create(
            {
                **self._prepare_file_vals(
                    account,
                    "remittance",
                    data,
                    nsa,
                    self._remittance_filename(account, nsa, now),
                    len(content.splitlines()),
                ),
                "file_date": now,
                "layout": account.layout,
                "occurrence_ids": [
                    Command.create(
                        {
                            "line_number": line_number,
                            "boleto_id": boleto.id,
                            "our_number_key": boleto.our_number_key,
                            "code": cnab_layouts.MOVEMENTS[boleto.pending_instruction],
                            "kind": boleto.pending_instruction,
                            "occurrence_date": fields.Date.context_today(self),
                            "amount": boleto.amount,
                            "due_date": boleto.due_date,
                        }
                    )
                    for boleto, line_number in zip(boletos, line_numbers, strict=True)
                ],
            }
        )
        boletos._mark_sent(cnab_file)
        if problems:
            left_out = self.env["rbm.boleto"].union(*problems)
            for boleto, message in problems.items():
                boleto._mark_left_out(message)
            cnab_file.left_out_note = "\n".join(
                f"{boleto.display_name} ({boleto.move_id.name or ''}, "
                f"{boleto.partner_id.display_name}): {message}"
                for boleto, message in problems.items()
            )
            cnab_file.message_post(
                body=_(
                    "%(count)s boleto(s) left out of this remittance, still pending for the "
                    "next one: %(boletos)s",
                    count=len(left_out),
                    boletos=", ".join(left_out.mapped("display_name")),
                )
            )
        return cnab_file

    @api.model
    def _remittance_line_numbers(self, account, content):
        """Line number of each title (segment P / CNAB 400 detail)."""
        lines = content.splitlines()
        if account.layout == "cnab400":
            # details: every record but the header (0) and the trailer (9)
            return [n for n, line in enumerate(lines, 1) if line[:1] not in ("0", "9")]
        return [n for n, line in enumerate(lines, 1) if line[7:8] == "3" and line[13:14] == "P"]

    @api.model
    def _remittance_filename(self, account, nsa, when):
        local = fields.Datetime.context_timestamp(self, when)
        return f"REM{account.bank_code}_{local:%Y%m%d}_{nsa:06d}.rem"

    # ------------------------------------------------------------
    # RETURN FILES (retorno)
    # ------------------------------------------------------------

    @api.model
    def _parse_return(self, account, content, filename=False):
        """Parse a return file (CNAB 240 or 400, told by the line length) of
        ``account``. Returns ``(layout, header values, [ReturnItem])``;
        UserError listing every malformed line with its number and field."""
        account.ensure_one()
        text = content.decode("latin-1") if isinstance(content, bytes) else content
        first = text.split("\n", 1)[0].rstrip("\r")
        try:
            if len(first) == 400:
                parsed = cnab.parse_cnab400(text, strict=False)
                layout = "cnab400"
            elif len(first) == 240:
                parsed = cnab.parse_cnab240(text, strict=False)
                layout = "cnab240"
            else:
                raise UserError(
                    _(
                        "Line 1: a CNAB line has 240 or 400 characters, this one has %(length)s.",
                        length=len(first),
                    )
                )
        except cnab.CnabError as error:
            raise UserError(self._format_file_errors([error])) from None
        if parsed.errors:
            raise UserError(self._format_file_errors(parsed.errors))
        header = parsed.header.values
        if parsed.bank != account.bank_code:
            raise UserError(
                _(
                    "Line 1: bank: the file is from bank %(file_bank)s, the collection account "
                    "%(account)s is bank %(bank)s.",
                    file_bank=parsed.bank,
                    account=account.display_name,
                    bank=account.bank_code,
                )
            )
        if header.get("file_type") == "1":
            raise UserError(_("Line 1: file_type: this is a remittance file, not a return file."))
        self._check_return_header(account, header)
        items = (
            cnab.cnab400_return_items(parsed)
            if layout == "cnab400"
            else cnab.cnab240_return_items(parsed)
        )
        return layout, header, items

    @api.model
    def _check_return_header(self, account, header):
        """The file must be of ``account``: its agency and account (when the
        header has them) must be the account's."""
        for name, mine in (("branch", account.branch), ("account", account.account_number)):
            theirs = header.get(name)
            if theirs and mine and theirs.strip("0") and int(theirs) != int(mine):
                raise UserError(
                    _(
                        "Line 1: %(field)s: the file is for %(theirs)s, the collection account "
                        "%(account)s has %(mine)s.",
                        field=name,
                        theirs=theirs,
                        account=account.display_name,
                        mine=mine,
                    )
                )

    @api.model
    def _plan_return(self, account, content, filename=False):
        """Read a return file and decide what each line does, without writing.

        Returns ``(header, plan)``; ``header`` has the file's header values
        and its ``layout``; ``plan`` has one dict per title line: the engine
        ``item``, ``boleto``, ``status`` (``new``, ``duplicate`` or
        ``problem``), ``message`` and the occurrence values. UserError
        (nothing written) for a malformed file, naming the line and field."""
        layout, header, items = self._parse_return(account, content, filename)
        bank = account.bank_code
        file_date = header.get("generated_on") or fields.Date.context_today(self)
        variant = account._get_layout_variant()
        keys = [collection.return_key(bank, layout, item.our_number, variant) for item in items]
        Boleto = self.env["rbm.boleto"]
        boletos = Boleto.search(
            [
                ("collection_account_id", "=", account.id),
                ("our_number_key", "in", [key for key in keys if key]),
            ]
        )
        by_key = {boleto.our_number_key: boleto for boleto in boletos}
        Occurrence = self.env["rbm.cnab.occurrence"]
        currency = account.currency_id
        plan = []
        for item, key in zip(items, keys, strict=True):
            key = key or ""
            boleto = by_key.get(key, Boleto)
            vals = {
                "line_number": item.line_number,
                "boleto_id": boleto.id,
                "our_number": (item.our_number or "").strip(),
                "our_number_key": key,
                "code": item.occurrence,
                "kind": item.kind,
                "description": item.description,
                "rejection_reasons": " ".join(item.rejection_reasons) or False,
                "occurrence_date": item.occurrence_date or item.credit_date or file_date,
                "credit_date": item.credit_date,
                "due_date": item.due_date,
                "amount": _money(currency, item.amount),
                "amount_paid": _money(currency, item.amount_paid),
                "interest_fine": _money(currency, item.interest_fine),
                "discount": _money(currency, (item.discount or 0) + (item.rebate or 0)),
                "fee": _money(currency, item.fee),
                "net_amount": _money(currency, item.net_amount),
                "pix_code": item.pix_code or False,
                "pix_txid": item.pix_txid or False,
                "pix_location": item.pix_location or False,
            }
            vals["dedup_key"] = Occurrence._build_dedup_key(
                key, vals["code"], vals["occurrence_date"], vals["amount_paid"], vals["fee"]
            )
            plan.append({"item": item, "boleto": boleto, "vals": vals})
        self._mark_duplicates(account, plan)
        for entry in plan:
            if entry["status"] == "new":
                problem = self._get_line_problem(
                    entry["boleto"], entry["vals"], entry["vals"]["our_number_key"]
                )
                if problem:
                    entry.update(status="problem", message=problem)
        return {**header, "layout": layout}, plan

    @api.model
    def _get_line_problem(self, boleto, vals, key):
        """Why a line cannot be applied (it is still logged), or ''."""
        if not key:
            return _("No our number on the line.")
        if not boleto:
            return _(
                "No boleto with our number %(number)s in this collection account.",
                number=vals["our_number"],
            )
        if vals["kind"] == "paid":
            if not vals["amount_paid"]:
                return _("Paid without an amount paid.")
            if boleto.state == "paid":
                return _("Boleto already paid: the payment stays open for the customer.")
        return ""

    @api.model
    def _lock_for_return(self, account):
        account._lock_for_return()

    @api.model
    def _prepare_return_vals(self, account, header, plan):
        return {"layout": header["layout"]}

    def _apply_return(self, plan):
        """Every line logged, payments created and reconciled, fees booked,
        boleto states updated. A line whose money was booked is applied,
        even with a problem (a boleto already paid); a problem line that
        booked nothing changes nothing and is tried again by a later file."""
        self.ensure_one()
        todo = [entry for entry in plan if entry["status"] != "duplicate"]
        # money received is always booked, even when the boleto cannot take it
        payments = self._create_payments(
            [
                e
                for e in todo
                if e["vals"]["kind"] == "paid" and e["boleto"] and e["vals"]["amount_paid"]
            ]
        )
        Payment = self.env["account.payment"]
        self.env["rbm.cnab.occurrence"].create(
            [
                {
                    **entry["vals"],
                    "file_id": self.id,
                    "payment_id": payments.get(id(entry), Payment).id,
                    "status": "problem"
                    if entry["status"] == "problem" and id(entry) not in payments
                    else "applied",
                    "message": entry["message"] or False,
                }
                for entry in todo
            ]
        )
        self._update_boletos([e for e in todo if e["status"] == "new"], payments)
        self._book_fees(todo)

    def _create_payments(self, entries):
        """One posted inbound payment per paid line, on the credit date, for
        the amount paid; interest/fine received and discounts granted are
        write-off lines of the payment, so its receivable line is the boleto
        amount. Reconciled with the boleto's installment when it is still
        open. Returns ``{id(entry): payment}``."""
        self.ensure_one()
        if not entries:
            return {}
        account = self.collection_account_id
        vals_list = []
        for entry in entries:
            boleto, vals = entry["boleto"], entry["vals"]
            payment_vals = self._prepare_installment_payment_vals(
                account,
                boleto.move_id,
                boleto.move_line_id,
                boleto.partner_id,
                vals["amount_paid"],
                vals["credit_date"] or vals["occurrence_date"],
                _(
                    "Boleto %(number)s - %(invoice)s",
                    number=boleto.our_number,
                    invoice=boleto.move_id.name,
                ),
            )
            write_offs = []
            if vals["interest_fine"]:
                write_offs.append(
                    self._prepare_write_off(
                        account.interest_account_id,
                        -vals["interest_fine"],
                        boleto,
                        _("Interest and fine - boleto %(number)s", number=boleto.our_number),
                    )
                )
            if vals["discount"] and account.discount_account_id:
                write_offs.append(
                    self._prepare_write_off(
                        account.discount_account_id,
                        vals["discount"],
                        boleto,
                        _("Discount - boleto %(number)s", number=boleto.our_number),
                    )
                )
            if write_offs:
                # only then does account.payment build the entry itself, one by one
                payment_vals["write_off_line_vals"] = write_offs
            vals_list.append(payment_vals)
        # the boletos are settled below (state paid), not written off
        paid = self._pay_installments(
            [entry["boleto"].move_line_id for entry in entries], vals_list, settling=True
        )
        for entry, (_payment, reconciled) in zip(entries, paid, strict=True):
            if not reconciled and entry["status"] == "new":
                entry["message"] = _(
                    "The installment is not open: the payment stays open for the customer."
                )
        return {id(entry): payment for entry, (payment, _r) in zip(entries, paid, strict=True)}

    @api.model
    def _prepare_write_off(self, account, balance, boleto, label):
        return {
            "name": label,
            "account_id": account.id,
            "partner_id": boleto.partner_id.id,
            "currency_id": boleto.currency_id.id,
            "amount_currency": balance,
            "balance": balance,
        }

    def _update_boletos(self, entries, payments):
        """The boletos change state by the occurrences (each boleto decides
        from which states it does), in groups."""
        Boleto = self.env["rbm.boleto"]
        registered, written_off, paid = Boleto, Boleto, []
        for entry in entries:
            boleto, vals = entry["boleto"], entry["vals"]
            if not boleto:
                continue
            if vals.get("pix_code") and boleto.pix_payload != vals["pix_code"]:
                # the bank's Pix of the boleto híbrido replaces the static code
                boleto.pix_payload = vals["pix_code"]
            kind = vals["kind"]
            if kind == "registered":
                registered |= boleto
            elif kind == "rejected":
                boleto._mark_rejected(vals["rejection_reasons"])
            elif kind == "written_off":
                written_off |= boleto
            elif kind == "paid":
                paid.append((boleto, vals, payments.get(id(entry))))
        registered._mark_registered()
        written_off._mark_written_off()
        for boleto, vals, payment in paid:
            boleto._mark_paid(
                vals["credit_date"] or vals["occurrence_date"],
                vals["amount_paid"],
                payment or self.env["account.payment"],
            )

    def _book_fees(self, entries):
        """One journal entry for the bank fees of the file: each fee to the
        fee account, against the journal's outstanding payments account (the
        bank statement line of the fees is matched with it)."""
        self.ensure_one()
        account = self.collection_account_id
        fee_entries = [e for e in entries if e["vals"]["fee"]]
        if not fee_entries:
            return
        total = sum(e["vals"]["fee"] for e in fee_entries)
        date = max(e["vals"]["credit_date"] or e["vals"]["occurrence_date"] for e in fee_entries)
        lines = [
            Command.create(
                {
                    "name": self.env._(
                        "Bank fee - %(description)s - %(number)s",
                        description=e["vals"]["description"],
                        number=e["vals"]["our_number"],
                    ),
                    "account_id": account.fee_account_id.id,
                    "partner_id": e["boleto"].partner_id.id,
                    "debit": e["vals"]["fee"],
                }
            )
            for e in fee_entries
        ]
        lines.append(
            Command.create(
                {
                    "name": _("Bank fees - %(file)s", file=self.display_name),
                    "account_id": account._get_outstanding_account("outbound").id,
                    "credit": account.currency_id.round(total),
                }
            )
        )
        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": account.journal_id.id,
                "company_id": account.company_id.id,
                "date": date,
                "ref": _("Bank fees - %(file)s", file=self.display_name),
                "line_ids": lines,
            }
        )
        move.action_post()
        self.fee_move_id = move


def _money(currency, value):
    return currency.round(float(value)) if value else 0.0


def _error_text(error):
    """The message of a ValueError / UserError."""
    return getattr(error, "message", None) or (error.args[0] if error.args else str(error))
