import base64
from collections import defaultdict

from odoo import Command, _, api, fields, models

from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import collection
from .rbm_cnab_occurrence import _dedup_key


class RbmCnabFile(models.Model):
    _name = "rbm.cnab.file"
    _description = "CNAB File"
    _inherit = ["rbm.bank.file.mixin", "mail.thread"]
    _order = "file_date desc, id desc"
    _check_company_auto = True

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
    # RETURN FILES (retorno)
    # ------------------------------------------------------------

    @api.model
    def _plan_return(self, account, content):
        """Read a return file and decide what each line does, without writing.

        Returns ``(layout, header, plan)``; ``plan`` has one dict per title
        line: the engine ``item``, ``boleto``, ``status`` (``new``,
        ``duplicate`` or ``problem``), ``message`` and the occurrence values.
        UserError (nothing written) for a malformed file, naming the line and
        field."""
        layout, header, items = account._parse_return(content)
        bank = account.bank_code
        file_date = header.get("generated_on") or fields.Date.context_today(self)
        keys = [collection.return_key(bank, layout, item.our_number) for item in items]
        Boleto = self.env["rbm.boleto"]
        boletos = Boleto.search(
            [
                ("collection_account_id", "=", account.id),
                ("our_number_key", "in", [key for key in keys if key]),
            ]
        )
        by_key = {boleto.our_number_key: boleto for boleto in boletos}
        logged = self.env["rbm.cnab.occurrence"].search(
            [
                ("collection_account_id", "=", account.id),
                ("direction", "=", "return"),
                ("our_number_key", "in", list({key or "" for key in keys})),
            ]
        )
        seen = {occurrence._dedup_key() for occurrence in logged}
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
            }
            dedup = _dedup_key(
                key, vals["code"], vals["occurrence_date"], vals["amount_paid"], vals["fee"]
            )
            entry = {"item": item, "boleto": boleto, "vals": vals, "status": "new", "message": ""}
            if dedup in seen:
                entry.update(status="duplicate", message=_("Already imported."))
            else:
                seen.add(dedup)
                problem = self._get_line_problem(boleto, vals, key)
                if problem:
                    entry.update(status="problem", message=problem)
            plan.append(entry)
        return layout, header, plan

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
    def _import_return(self, account, content, filename=False):
        """Import a return file in one go: every line logged, payments
        created and reconciled, fees booked, boleto states updated. Raises
        (nothing written) for a malformed file or a file already imported;
        lines an earlier file already brought are skipped."""
        account.ensure_one()
        data = content if isinstance(content, bytes) else content.encode("latin-1")
        account._lock_for_return()
        layout, header, plan = self._plan_return(account, data)
        self._check_not_imported(account, data)
        cnab_file = self.create(
            {
                "collection_account_id": account.id,
                "direction": "return",
                "layout": layout,
                "nsa": header.get("file_sequence") or 0,
                "file_date": fields.Datetime.now(),
                "filename": filename or f"RET{account.bank_code}_{self._hash(data)[:8]}",
                "datas": base64.b64encode(data),
                "file_hash": self._hash(data),
                "line_count": len(data.splitlines()),
                "duplicate_count": sum(1 for entry in plan if entry["status"] == "duplicate"),
            }
        )
        todo = [entry for entry in plan if entry["status"] != "duplicate"]
        # money received is always booked, even when the boleto cannot take it
        payments = cnab_file._create_payments(
            [
                e
                for e in todo
                if e["vals"]["kind"] == "paid" and e["boleto"] and e["vals"]["amount_paid"]
            ]
        )
        self.env["rbm.cnab.occurrence"].create(
            [
                {
                    **entry["vals"],
                    "file_id": cnab_file.id,
                    "payment_id": payments.get(id(entry), self.env["account.payment"]).id,
                    "message": entry["message"] or False,
                }
                for entry in todo
            ]
        )
        cnab_file._update_boletos([e for e in todo if e["status"] == "new"], payments)
        cnab_file._book_fees(todo)
        return cnab_file

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
            date = vals["credit_date"] or vals["occurrence_date"]
            payment_vals = {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": boleto.partner_id.id,
                "amount": vals["amount_paid"],
                "currency_id": account.currency_id.id,
                "date": date,
                "journal_id": account.journal_id.id,
                "company_id": account.company_id.id,
                "memo": _(
                    "Boleto %(number)s - %(invoice)s",
                    number=boleto.our_number,
                    invoice=boleto.move_id.name,
                ),
                "invoice_ids": [Command.set(boleto.move_id.ids)],
            }
            if boleto.move_line_id:
                payment_vals["destination_account_id"] = boleto.move_line_id.account_id.id
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
        payments = self.env["account.payment"].create(vals_list)
        payments.action_post()
        plan = []
        for entry, payment in zip(entries, payments, strict=True):
            installment = entry["boleto"].move_line_id
            if installment and not installment.reconciled and installment.parent_state == "posted":
                counterpart = payment.move_id.line_ids.filtered(
                    lambda line, account=installment.account_id: (
                        line.account_id == account and not line.reconciled
                    )
                )
                plan.append(counterpart + installment)
            elif entry["status"] == "new":
                entry["message"] = _(
                    "The installment is not open: the payment stays open for the customer."
                )
        if plan:
            self.env["account.move.line"].with_context(rbm_cnab_settling=True)._reconcile_plan(plan)
        return {id(entry): payment for entry, payment in zip(entries, payments, strict=True)}

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
        """New boleto states from the occurrences, written in groups."""
        groups = defaultdict(lambda: self.env["rbm.boleto"])
        paid = []
        for entry in entries:
            boleto, vals = entry["boleto"], entry["vals"]
            if not boleto:
                continue
            kind = vals["kind"]
            if kind == "registered" and boleto.state in ("draft", "in_remessa", "rejected"):
                groups[(("state", "registered"),)] |= boleto
            elif kind == "rejected" and boleto.state in ("draft", "in_remessa"):
                boleto.write({"state": "rejected", "rejection_reasons": vals["rejection_reasons"]})
            elif kind == "rejected":
                boleto.rejection_reasons = vals["rejection_reasons"]
            elif kind == "written_off" and boleto.state != "paid":
                groups[(("state", "written_off"), ("pending_instruction", False))] |= boleto
            elif kind == "paid":
                paid.append((boleto, vals, payments.get(id(entry))))
        for items, boletos in groups.items():
            boletos.write(dict(items))
        for boleto, vals, payment in paid:
            boleto.write(
                {
                    "state": "paid",
                    "pending_instruction": False,
                    "paid_date": vals["credit_date"] or vals["occurrence_date"],
                    "amount_paid": vals["amount_paid"],
                    "payment_id": payment.id if payment else False,
                }
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
