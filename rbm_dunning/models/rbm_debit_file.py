from datetime import timedelta

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import boleto as boleto_engine
from ..engine import cnab150
from ..engine.fixedwidth import CnabError
from .rbm_boleto import _decimal
from .rbm_debit import LIVE_DOMAIN


class RbmDebitFile(models.Model):
    """A CNAB 150 (débito automático) file of a collection account: a
    remittance of debits (E) generated here, or a return from the bank with
    mandates (B) and debit results (F)."""

    _name = "rbm.debit.file"
    _description = "Direct Debit File"
    _inherit = ["rbm.bank.file.mixin", "mail.thread"]
    _order = "file_date desc, id desc"
    _check_company_auto = True
    _line_model = "rbm.debit.occurrence"
    _return_filename_prefix = "RETDEB"

    collection_account_id = fields.Many2one(string="Agreement")
    occurrence_ids = fields.One2many("rbm.debit.occurrence", "file_id", string="Lines")
    debit_ids = fields.One2many("rbm.debit", "remittance_id", string="Debits")
    total_amount = fields.Monetary(
        compute="_compute_totals", help="Debits requested (remittance) or made (return)."
    )
    payment_count = fields.Integer(compute="_compute_totals")

    _sql_constraints = [
        (
            "file_hash_uniq",
            "unique(collection_account_id, direction, file_hash)",
            "This file was already imported for this agreement.",
        ),
    ]

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("direction", "nsa", "collection_account_id.name")
    def _compute_name(self):
        labels = dict(self._fields["direction"]._description_selection(self.env))
        for debit_file in self:
            nsa = str(debit_file.nsa).zfill(6)
            debit_file.name = self.env._(
                "Direct Debit %(direction)s %(nsa)s - %(account)s",
                direction=labels.get(debit_file.direction, ""),
                nsa=nsa,
                account=debit_file.collection_account_id.name or "",
            )

    @api.depends("occurrence_ids.amount", "occurrence_ids.payment_id")
    def _compute_totals(self):
        for debit_file in self:
            if debit_file.direction == "remittance":
                lines = debit_file.occurrence_ids.filtered(lambda o: o.record_type == "E")
            else:
                lines = debit_file.occurrence_ids.filtered("payment_id")
            debit_file.total_amount = sum(lines.mapped("amount"))
            debit_file.payment_count = len(debit_file.occurrence_ids.payment_id)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_payments(self):
        check_staff_access(self, "read")
        self.ensure_one()
        return self.occurrence_ids.payment_id._get_records_action(name=self.env._("Payments"))

    # ------------------------------------------------------------
    # REMITTANCE (record E)
    # ------------------------------------------------------------

    @api.model
    def _get_installments_to_debit(self, account, horizon_date):
        """Open receivable installments of posted invoices paid by direct
        debit through ``account``, due by ``horizon_date``, not sent yet (or
        refused with a code re-presented, from their retry date on).
        Returns ``(lines, {line: mandate}, {invoice: reason},
        {line: (retry date, last attempt)})`` where the reasons explain the
        invoices left out."""
        Line = self.env["account.move.line"]
        candidates = Line.search(
            [
                ("company_id", "=", account.company_id.id),
                ("move_id.move_type", "=", "out_invoice"),
                ("parent_state", "=", "posted"),
                ("display_type", "=", "payment_term"),
                ("account_id.account_type", "=", "asset_receivable"),
                ("reconciled", "=", False),
                ("amount_residual_currency", ">", 0),
                ("date_maturity", "<=", horizon_date),
                "|",
                ("move_id.rbm_debit_mandate_id.collection_account_id", "=", account.id),
                "&",
                ("move_id.rbm_debit_mandate_id", "=", False),
                ("move_id.rbm_contract_id.payment_mode", "=", "direct_debit"),
            ],
        ).sorted(lambda line: (line.date_maturity, line.move_id.id, line.id))
        if not candidates:
            return Line, {}, {}, {}
        Debit = self.env["rbm.debit"]
        sent = set(
            Debit.search([("move_line_id", "in", candidates.ids), *LIVE_DOMAIN]).move_line_id.ids
        )
        # installments the bank refused with a code re-presented: sent again
        # from their retry date on, as the next attempt
        retries = {
            line: (retry_date, attempt)
            for line, retry_date, attempt in Debit._read_group(
                [
                    ("move_line_id", "in", candidates.ids),
                    ("state", "=", "failed"),
                    ("retry_date", "!=", False),
                ],
                ["move_line_id"],
                ["retry_date:max", "attempt:max"],
            )
        }
        candidates = candidates.filtered(lambda line: line.id not in sent)
        lines, mandates, skipped = Line, {}, {}
        waiting = candidates.filtered(
            lambda line: line in retries and retries[line][0] > horizon_date
        )
        for line in waiting:
            skipped[line.move_id] = self.env._(
                "refused by the bank, sent again for %(date)s (attempt %(attempt)s).",
                date=format_date(self.env, retries[line][0]),
                attempt=retries[line][1] + 1,
            )
        candidates -= waiting
        fallback = self.env["rbm.debit.mandate"]._get_active_for_partners(
            candidates.move_id.commercial_partner_id, account.company_id
        )
        # from layout 05 on, records E carry the payer's CPF/CNPJ: a customer
        # without a valid one is left out, the others go
        needs_document = (
            "payer_document" in cnab150.layout(account._get_debit_layout_version())["E"].names
        )
        for line in candidates:
            move = line.move_id
            mandate = move._rbm_get_debit_mandate(fallback)
            if not mandate:
                skipped[move] = self.env._(
                    "%(customer)s has no active mandate.", customer=move.partner_id.name
                )
            elif mandate.collection_account_id != account:
                continue
            elif line.currency_id != account.currency_id:
                skipped[move] = self.env._(
                    "direct debits are in %(currency)s.", currency=account.currency_id.name
                )
            elif needs_document and (problem := self._payer_document_problem(move)):
                skipped[move] = problem
            else:
                lines |= line
                mandates[line] = mandate
        return lines, mandates, skipped, retries

    @api.model
    def _payer_document_problem(self, move):
        """Why ``move``'s customer cannot be written in a record E that
        carries the payer's CPF/CNPJ (layouts 05 and 08), or None."""
        partner = move.commercial_partner_id
        try:
            cnab150.payer_document(partner.vat or "")
        except ValueError as error:
            return self.env._(
                "the Tax ID (CPF/CNPJ) of %(customer)s, required from layout 05 on: %(reason)s.",
                customer=partner.display_name,
                reason=self.env["res.partner"]._rbm_document_reason(error),
            )
        return None

    @api.model
    def _generate_remittance(self, account, horizon_date=None):
        """CNAB 150 remittance of ``account``: one C record per opt-in the
        company refused, one E record per installment to debit, the next NSA,
        one ``rbm.debit`` per installment (sent once: a unique index refuses a
        second live debit of a line). Returns
        ``(file or empty recordset, {invoice: reason left out})``. All or
        nothing: an installment that does not fit the layout stops the file,
        naming its invoice."""
        account.ensure_one()
        account._check_debit_agreement()
        account._lock()
        today = fields.Date.context_today(self)
        horizon_date = horizon_date or today + timedelta(days=account.debit_horizon_days)
        lines, mandates, skipped, retries = self._get_installments_to_debit(account, horizon_date)
        # opt-ins the company refused go back to the bank (record C)
        refusals = self.env["rbm.debit.occurrence"].search(
            [
                ("collection_account_id", "=", account.id),
                ("record_type", "=", "B"),
                ("refusal_state", "=", "to_send"),
            ],
            order="id",
        )
        if not lines and not refusals:
            return self, skipped
        Occurrence = self.env["rbm.debit.occurrence"]
        Debit = self.env["rbm.debit"]
        debits = Debit.create(
            [
                {
                    "mandate_id": mandates[line].id,
                    "move_id": line.move_id.id,
                    "move_line_id": line.id,
                    "currency_id": line.currency_id.id,
                    "amount": line.currency_id.round(line.amount_residual_currency),
                    # the bank refuses dates before processing (code 18)
                    "due_date": max(line.date_maturity, retries.get(line, (today,))[0], today),
                    "attempt": retries[line][1] + 1 if line in retries else 1,
                }
                for line in lines
            ]
        )
        nsa = account._reserve_debit_nsa()
        items = [
            cnab150.Debit(
                customer_id=debit.mandate_id.identifier,
                branch=debit.mandate_id.branch.zfill(4),
                account_id=debit.mandate_id.account_number,
                due_date=debit.due_date,
                amount=_decimal(debit.amount, debit.currency_id),
                company_use=debit._company_use(),
                payer_document=debit.move_id.commercial_partner_id.vat or "",
            )
            for debit in debits
        ]
        refusal_items = []
        for refusal in refusals:
            reason1, reason2 = refusal._refusal_text()
            refusal_items.append(
                cnab150.Refusal(
                    customer_id=refusal.customer_identifier or "",
                    branch=(refusal.branch or "").zfill(4),
                    account_id=refusal.account_number or "",
                    occurrence1=reason1,
                    occurrence2=reason2,
                )
            )
        try:
            content = self._render_remittance(account, items, nsa, today, refusals=refusal_items)
        except CnabError as error:
            # line 1 is the header, then one line per refusal, then per debit
            index = (error.line_number or 0) - 2
            if 0 <= index < len(refusals):
                subject = self.env._(
                    "refused opt-in %(identifier)s", identifier=refusals[index].customer_identifier
                )
            else:
                debit = debits[index - len(refusals)] if index >= len(refusals) else Debit
                subject = debit.move_id.name or account.display_name
            raise UserError(
                self.env._(
                    "The direct debit remittance cannot be generated: %(invoice)s: %(error)s",
                    invoice=subject,
                    error=str(error),
                )
            ) from None
        data = content.encode("latin-1")
        debit_file = self.create(
            {
                **self._prepare_file_vals(
                    account,
                    "remittance",
                    data,
                    nsa,
                    self._remittance_filename(account, nsa, today),
                    len(items) + len(refusal_items) + 2,
                ),
                "occurrence_ids": [
                    Command.create(
                        {
                            "line_number": number,
                            "record_type": "C",
                            "customer_identifier": refusal.customer_identifier,
                            "branch": refusal.branch,
                            "account_number": refusal.account_number,
                            "code": "2",
                            "description": self.env._("Opt-in refused"),
                            "date": today,
                            "dedup_key": Occurrence._make_dedup_key("C", refusal.id),
                        }
                    )
                    for number, refusal in enumerate(refusals, 2)
                ]
                + [
                    Command.create(
                        {
                            "line_number": number,
                            "record_type": "E",
                            "customer_identifier": debit.mandate_id.identifier,
                            "branch": debit.mandate_id.branch,
                            "account_number": debit.mandate_id.account_number,
                            "mandate_id": debit.mandate_id.id,
                            "debit_id": debit.id,
                            "code": "0",
                            "description": self.env._("Debit requested"),
                            "date": debit.due_date,
                            "amount": debit.amount,
                            "dedup_key": Occurrence._make_dedup_key("E", debit.id),
                        }
                    )
                    for number, debit in enumerate(debits, 2 + len(refusals))
                ],
            }
        )
        debits.write({"remittance_id": debit_file.id})
        refusals._mark_refusal_sent(debit_file)
        return debit_file, skipped

    @api.model
    def _render_remittance(self, account, debits, nsa, generated_on, refusals=()):
        """CNAB 150 remittance content (str) of ``debits`` (engine ``Debit``)
        and refused opt-ins (engine ``Refusal``) of ``account``."""
        account.ensure_one()
        return cnab150.cnab150_remittance(
            refusals=refusals,
            agreement=(account.debit_agreement or "").strip(),
            company_name=account.company_id.name or "",
            bank=account.bank_code,
            bank_name=_bank_name(account.bank_code),
            file_sequence=nsa,
            generated_on=generated_on,
            debits=debits,
            version=account._get_debit_layout_version(),
            account_fill=account.debit_account_fill or "spaces",
        )

    @api.model
    def _remittance_filename(self, account, nsa, generated_on):
        return f"DEB{account.bank_code}_{generated_on:%Y%m%d}_{nsa:06d}.rem"

    # ------------------------------------------------------------
    # RETURN (records B and F)
    # ------------------------------------------------------------

    @api.model
    def _parse_return(self, account, content, filename=False):
        """The parsed return (engine ``CnabFile``) of ``account``, read in the
        layout version its header declares; UserError for a version the
        agreement does not use (naming the file and both versions), or
        listing every malformed line with its number and field."""
        text = content.decode("latin-1") if isinstance(content, bytes) else content
        expected = account._get_debit_layout_version()
        found = cnab150.declared_version(text)
        if found is not None and found != expected:
            raise UserError(
                self.env._(
                    "The file %(file)s was not imported, nothing was changed: its header "
                    "(line 1, positions 80-81) declares CNAB 150 layout version %(found)s, "
                    "agreement %(account)s uses version %(expected)s.",
                    file=filename or self.env._("(no name)"),
                    found=found.strip() or self.env._("(blank)"),
                    account=account.display_name,
                    expected=expected,
                )
            )
        parsed = cnab150.parse_cnab150(text, strict=False, expected_version=expected)
        if parsed.errors:
            raise UserError(self._format_file_errors(parsed.errors))
        header = parsed.header
        problems = []
        if header["file_type"] != "2":
            problems.append(
                ("file_type", self.env._("this is a remittance file, not a return file."))
            )
        if header["bank"] != account.bank_code:
            problems.append(
                (
                    "bank",
                    self.env._(
                        "the file is from bank %(file_bank)s, the agreement %(account)s is "
                        "bank %(bank)s.",
                        file_bank=header["bank"],
                        account=account.display_name,
                        bank=account.bank_code,
                    ),
                )
            )
        if header["agreement"].strip() != (account.debit_agreement or "").strip():
            problems.append(
                (
                    "agreement",
                    self.env._(
                        "the file is for agreement %(theirs)s, %(account)s has %(mine)s.",
                        theirs=header["agreement"],
                        account=account.display_name,
                        mine=account.debit_agreement or "-",
                    ),
                )
            )
        if problems:
            raise UserError(
                "\n".join(
                    [self.env._("The file was not imported, nothing was changed:")]
                    + [
                        self.env._(
                            "Line %(line)s: %(field)s: %(message)s", line=1, field=f, message=m
                        )
                        for f, m in problems
                    ]
                )
            )
        return parsed

    @api.model
    def _plan_return(self, account, content, filename=False):
        """Read a return and decide what each B and F line does, without
        writing. Returns ``(header values, plan)``; each entry of ``plan`` has
        the occurrence ``vals``, ``status`` (``new``, ``duplicate`` or
        ``problem``), ``message``, and the ``mandate`` / ``debit`` /
        ``partner`` it applies to."""
        account.ensure_one()
        parsed = self._parse_return(account, content, filename)
        changes = cnab150.cnab150_mandates(parsed)
        results = cnab150.cnab150_results(parsed)
        currency = account.currency_id
        Occurrence = self.env["rbm.debit.occurrence"]
        entries = []
        for change in changes:
            entries.append(
                {
                    "kind": "mandate",
                    "item": change,
                    "vals": {
                        "line_number": change.line_number,
                        "record_type": "B",
                        "customer_identifier": change.customer_id,
                        "branch": change.branch,
                        "account_number": change.account_id,
                        "code": {"inclusion": "2", "exclusion": "1"}.get(change.action, "?"),
                        "description": {
                            "inclusion": self.env._("Mandate authorized at the bank"),
                            "exclusion": self.env._("Mandate cancelled at the bank"),
                        }.get(change.action, self.env._("Unknown movement")),
                        "date": change.option_date,
                        "dedup_key": Occurrence._make_dedup_key(
                            "B",
                            change.customer_id,
                            change.branch,
                            change.account_id,
                            change.option_date,
                            change.action,
                        ),
                    },
                }
            )
        for result in results:
            entries.append(
                {
                    "kind": "result",
                    "item": result,
                    "vals": {
                        "line_number": result.line_number,
                        "record_type": "F",
                        "customer_identifier": result.customer_id,
                        "branch": result.branch,
                        "account_number": result.account_id,
                        "code": result.return_code.code,
                        "description": result.return_code.description,
                        "date": result.debit_date,
                        "amount": currency.round(float(result.amount or 0)),
                        "dedup_key": Occurrence._make_dedup_key(
                            "F",
                            result.customer_id,
                            result.company_use,
                            result.debit_date,
                            result.amount or 0,
                            result.return_code.code,
                            "1" if result.cancel else "0",
                        ),
                    },
                }
            )
        entries.sort(key=lambda e: e["vals"]["line_number"])
        self._resolve_mandates(account, [e for e in entries if e["kind"] == "mandate"])
        self._resolve_debits(account, [e for e in entries if e["kind"] == "result"])
        self._mark_duplicates(account, entries)
        return parsed.header.values, entries

    @api.model
    def _resolve_mandates(self, account, entries):
        """Find the mandate (or the customer) each B line is about."""
        Mandate = self.env["rbm.debit.mandate"]
        identifiers = [e["item"].customer_id for e in entries]
        mandates = Mandate.search(
            [
                ("collection_account_id", "=", account.id),
                ("identifier", "in", identifiers),
                ("state", "!=", "cancelled"),
            ]
        )
        by_identifier = {m.identifier: m for m in mandates}
        partners = self._find_partners(account, identifiers)
        active_of = {
            m.partner_id: m
            for m in Mandate.search(
                [
                    ("collection_account_id", "=", account.id),
                    (
                        "partner_id",
                        "in",
                        [p.id for p in partners.values()] + mandates.partner_id.ids,
                    ),
                    ("state", "=", "active"),
                ]
            )
        }
        for entry in entries:
            change = entry["item"]
            mandate = by_identifier.get(change.customer_id, Mandate)
            entry["mandate"] = mandate
            entry["partner"] = mandate.partner_id or partners.get(change.customer_id)
            if change.action == "exclusion":
                if not mandate:
                    entry.update(
                        status="problem",
                        message=self.env._(
                            "No mandate with identifier %(identifier)s to cancel.",
                            identifier=change.customer_id,
                        ),
                    )
            elif change.action == "inclusion":
                if not mandate and not entry["partner"]:
                    entry.update(
                        status="problem",
                        message=self.env._(
                            "No mandate or customer with identifier %(identifier)s: create the "
                            "mandate in the back office and activate it.",
                            identifier=change.customer_id,
                        ),
                    )
                elif active_of.get(entry["partner"], mandate) != mandate:
                    entry.update(
                        status="problem",
                        message=self.env._(
                            "%(customer)s already has another active mandate on this agreement "
                            "(%(mandate)s): cancel it first.",
                            customer=entry["partner"].name,
                            mandate=active_of[entry["partner"]].identifier,
                        ),
                    )
            else:
                entry.update(status="problem", message=self.env._("Unknown movement code."))
            if entry.get("status") != "problem":
                entry["vals"]["mandate_id"] = mandate.id

    @api.model
    def _find_partners(self, account, identifiers):
        """``{identifier: commercial partner}`` for identifiers that are a
        customer's reference, or the number the mandates give customers
        without one."""
        Partner = self.env["res.partner"].with_context(active_test=False)
        company_domain = [("company_id", "in", (False, account.company_id.id))]
        result = {}
        by_ref = Partner.search(
            [("ref", "in", identifiers), ("parent_id", "=", False), *company_domain]
        )
        for partner in by_ref:
            result.setdefault(partner.ref, partner)
        numbers = [int(i) for i in identifiers if i not in result and i.isdigit()]
        for partner in Partner.search(
            [("id", "in", numbers), ("ref", "in", (False, "")), *company_domain]
        ):
            result.setdefault(str(partner.id), partner.commercial_partner_id)
        return result

    @api.model
    def _resolve_debits(self, account, entries):
        """Find the debit each F line answers (by the company-use text the E
        record carried) and decide what it does."""
        Debit = self.env["rbm.debit"]
        ids = Debit._from_company_use([e["item"].company_use for e in entries])
        debits = Debit.browse(set(ids.values())).exists()
        by_id = {debit.id: debit for debit in debits if debit.collection_account_id == account}
        for entry in entries:
            result = entry["item"]
            debit = by_id.get(ids.get(result.company_use), Debit)
            entry["debit"] = debit
            entry["mandate"] = debit.mandate_id
            if not debit:
                entry.update(
                    status="problem",
                    message=self.env._(
                        "No debit %(reference)s was sent on this agreement.",
                        reference=result.company_use or "-",
                    ),
                )
                continue
            entry["vals"].update(debit_id=debit.id, mandate_id=debit.mandate_id.id)
            if debit.mandate_id.identifier != result.customer_id:
                entry.update(
                    status="problem",
                    message=self.env._(
                        "Debit %(reference)s is of customer %(identifier)s, not %(other)s.",
                        reference=result.company_use,
                        identifier=debit.mandate_id.identifier,
                        other=result.customer_id,
                    ),
                )
            elif result.debited and debit.state == "paid":
                entry.update(status="problem", message=self.env._("This debit was already paid."))
            elif result.debited and not result.amount:
                entry.update(status="problem", message=self.env._("Debited without an amount."))
            elif result.debited and not result.debit_date:
                entry.update(status="problem", message=self.env._("Debited without a debit date."))

    @api.model
    def _lock_for_return(self, account):
        account._lock_for_debit_return()

    def _apply_return(self, plan):
        """Mandates created, activated or cancelled (B); payments created and
        reconciled, or failures logged on the invoices (F); every line logged,
        a problem as not applied (a later file may apply it)."""
        self.ensure_one()
        account = self.collection_account_id
        todo = [entry for entry in plan if entry["status"] == "new"]
        self._apply_mandates(account, [e for e in todo if e["kind"] == "mandate"])
        results = [e for e in todo if e["kind"] == "result"]
        self._apply_payments(account, [e for e in results if e["item"].debited])
        self._apply_failures([e for e in results if not e["item"].debited])
        self.env["rbm.debit.occurrence"].create(
            [
                {
                    **entry["vals"],
                    "file_id": self.id,
                    "status": "problem" if entry["status"] == "problem" else "applied",
                    "message": entry["message"] or False,
                }
                for entry in plan
                if entry["status"] != "duplicate"
            ]
        )

    def _apply_mandates(self, account, entries):
        Mandate = self.env["rbm.debit.mandate"]
        for entry in entries:
            change, mandate = entry["item"], entry["mandate"]
            bank_details = {
                "branch": change.branch,
                "account_number": change.account_id,
            }
            if change.action == "exclusion":
                mandate._cancel(change.option_date or fields.Date.context_today(self))
                mandate.message_post(
                    body=self.env._(
                        "Cancelled by the customer at the bank (%(file)s).", file=self.name
                    )
                )
                entry["message"] = self.env._("Mandate cancelled.")
            elif mandate:
                was = mandate.state
                mandate._activate(
                    change.option_date
                    or mandate.authorization_date
                    or fields.Date.context_today(self),
                    bank_details,
                )
                mandate.message_post(
                    body=self.env._(
                        "Authorized by the customer at the bank (%(file)s).", file=self.name
                    )
                )
                entry["message"] = (
                    self.env._("Mandate activated.")
                    if was == "draft"
                    else self.env._("Mandate updated.")
                )
            else:
                mandate = Mandate._create_from_bank(
                    {
                        **bank_details,
                        "partner_id": entry["partner"].id,
                        "collection_account_id": account.id,
                        "identifier": change.customer_id,
                        "authorization_date": change.option_date,
                    }
                )
                entry["message"] = self.env._("Mandate created.")
            entry["vals"]["mandate_id"] = mandate.id

    def _apply_payments(self, account, entries):
        """One posted inbound payment per debit made, on the debit date,
        reconciled with the installment when it is still open."""
        if not entries:
            return
        paid = self._pay_installments(
            [entry["debit"].move_line_id for entry in entries],
            [
                self._prepare_installment_payment_vals(
                    account,
                    entry["debit"].move_id,
                    entry["debit"].move_line_id,
                    entry["debit"].move_id.commercial_partner_id,
                    entry["vals"]["amount"],
                    entry["item"].debit_date,
                    self.env._("Direct debit - %(invoice)s", invoice=entry["debit"].move_id.name),
                )
                for entry in entries
            ],
        )
        for entry, (payment, reconciled) in zip(entries, paid, strict=True):
            entry["vals"]["payment_id"] = payment.id
            entry["debit"]._mark_paid(payment, entry["item"].debit_date, entry["item"].return_code)
            if reconciled:
                entry["message"] = self.env._("Paid.")
            else:
                entry["message"] = self.env._(
                    "The installment was already paid: the payment stays open for the customer."
                )

    def _apply_failures(self, entries):
        """Debits the bank did not make: logged on the invoice. Refused with a
        code the agreement re-presents, and attempts left, the installment is
        sent again ``debit_retry_days`` after the day the bank tried it;
        otherwise it stays open for the collection rules."""
        account = self.collection_account_id
        retry_codes = account._get_debit_retry_codes() if account.debit_retry_count else set()
        for entry in entries:
            debit, result = entry["debit"], entry["item"]
            code = result.return_code
            cancelled = code.code == "99"
            first_answer = debit.state == "sent"
            retry_date = False
            if (
                first_answer
                and code.code in retry_codes
                and debit.attempt <= account.debit_retry_count
            ):
                tried_on = max(result.debit_date or debit.due_date, debit.due_date)
                retry_date = tried_on + timedelta(days=account.debit_retry_days)
            if cancelled:
                debit._mark_cancelled(code)
            elif first_answer:
                debit._mark_failed(code, retry_date)
            else:
                debit._record_answer(code)
            move = debit.move_id
            lang = move.partner_id.lang or self.env.lang
            if retry_date:
                outcome = self.env._(
                    "It will be sent again for %(date)s (attempt %(attempt)s of %(attempts)s, "
                    "%(file)s).",
                    date=format_date(self.env, retry_date, lang_code=lang),
                    attempt=debit.attempt + 1,
                    attempts=account.debit_retry_count + 1,
                    file=self.name,
                )
            else:
                outcome = self.env._(
                    "The installment stays open for collection (%(file)s).", file=self.name
                )
            move.message_post(
                body=Markup("%s<br/>%s")
                % (
                    self.env._(
                        "Direct debit of %(amount)s due %(date)s was not made by the bank: "
                        "%(code)s - %(description)s.",
                        amount=format_amount(self.env, debit.amount, debit.currency_id, lang),
                        date=format_date(self.env, debit.due_date, lang_code=lang),
                        code=code.code,
                        description=code.description,
                    ),
                    outcome,
                )
            )
            if cancelled:
                entry["message"] = self.env._("Debit cancelled at the company's request.")
            elif retry_date:
                entry["message"] = self.env._(
                    "Not debited: sent again for %(date)s.",
                    date=format_date(self.env, retry_date),
                )
            else:
                entry["message"] = self.env._(
                    "Not debited: the installment stays open for collection."
                )


def _bank_name(bank_code):
    layout = boleto_engine.BANKS.get(bank_code)
    return layout.name.split(" (")[0] if layout else ""
