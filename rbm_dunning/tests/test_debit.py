import base64
from datetime import date
from decimal import Decimal

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger

from ..engine import cnab150
from .common import RbmDunningCase

AGREEMENT = "CONV123"


@tagged("post_install", "-at_install")
class TestDebit(RbmDunningCase):
    """Direct debit (CNAB 150): mandates, remittance (E), return (B, F)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.debit_agreement = AGREEMENT
        cls.customer.ref = "CLI-0001"
        cls.customer_b = cls.customer.copy(
            {"name": "Oficina Beta Ltda", "vat": "11.222.333/0001-81", "ref": "CLI-0002"}
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _return_150(self, lines, nsa=1, generated_on=date(2026, 3, 11)):
        """A CNAB 150 return of the agreement: ``lines`` are ("B", values)
        or ("F", values) written with the engine's layout."""
        records = cnab150.RECORDS
        out = [
            records["A"].to_line(
                {
                    "file_type": "2",
                    "agreement": AGREEMENT,
                    "company_name": "EMPRESA",
                    "bank": "341",
                    "bank_name": "BANCO ITAU",
                    "generated_on": generated_on,
                    "file_sequence": nsa,
                }
            )
        ]
        total = Decimal(0)
        for kind, values in lines:
            if kind == "F":
                total += values["amount"]
                values = {"movement": "0", **values}
            out.append(records[kind].to_line(values))
        out.append(records["Z"].to_line({"record_count": len(out) + 1, "total": total}))
        return ("\r\n".join(out) + "\r\n").encode("latin-1")

    def _b(self, identifier, movement="2", option_date=date(2026, 2, 20), account="0012345X"):
        return (
            "B",
            {
                "customer_id": identifier,
                "branch": "0810",
                "account_id": account,
                "option_date": option_date,
                "movement": movement,
            },
        )

    def _f(self, debit, code, amount=None, debit_date=date(2026, 3, 10)):
        return (
            "F",
            {
                "customer_id": debit.mandate_id.identifier,
                "branch": debit.mandate_id.branch,
                "account_id": debit.mandate_id.account_number,
                "debit_date": debit_date,
                "amount": Decimal(str(amount if amount is not None else debit.amount)),
                "return_code": code,
                "company_use": debit._company_use(),
            },
        )

    def _import(self, content, filename="debito.ret"):
        wizard = self.env["rbm.debit.import.wizard"].create(
            {
                "collection_account_id": self.account.id,
                "data": base64.b64encode(content),
                "filename": filename,
            }
        )
        wizard.action_preview()
        preview = [(line.line_number, line.record_type, line.status) for line in wizard.line_ids]
        action = wizard.action_import()
        return self.env["rbm.debit.file"].browse(action["res_id"]), preview

    def _counts(self):
        partners = (self.customer | self.customer_b).ids
        return (
            self.env["account.payment"].search_count([("partner_id", "in", partners)]),
            self.env["rbm.debit.occurrence"].search_count([("direction", "=", "return")]),
            self.env["rbm.debit.file"].search_count([("direction", "=", "return")]),
            self.env["rbm.debit.mandate"].search_count([("partner_id", "in", partners)]),
            self.env["rbm.debit"].search_count([("state", "=", "sent")]),
            self.env["mail.message"].search_count(
                [("model", "=", "account.move"), ("body", "ilike", "not made by the bank")]
            ),
        )

    # ------------------------------------------------------------------
    # Mandates
    # ------------------------------------------------------------------

    def test_mandate_back_office(self):
        form = Form(self.env["rbm.debit.mandate"])
        form.partner_id = self.customer
        form.collection_account_id = self.account
        form.branch = "0810"
        form.account_number = "12.345-6"
        mandate = form.save()
        self.assertEqual(mandate.identifier, "CLI-0001")
        self.assertEqual(mandate.account_number, "123456")
        self.assertEqual((mandate.state, mandate.bank_code), ("draft", "341"))
        mandate.action_activate()
        self.assertEqual(mandate.state, "active")
        self.assertTrue(mandate.authorization_date)
        with self.assertRaisesRegex(ValidationError, "Account of mandate CLI-0009"):
            mandate.copy({"identifier": "CLI-0009", "account_number": "12A45"})
        with self.assertRaisesRegex(ValidationError, "Agency of mandate"):
            mandate.copy({"identifier": "CLI-0010", "branch": "08100"})
        # one active mandate per customer and agreement
        other = mandate.copy({"identifier": "CLI-0011"})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            other.action_activate()
            other.flush_recordset()
        # a contract paid by direct debit takes the active mandate on its invoices
        invoice = self._bill_contract(payment_mode="direct_debit")
        self.assertEqual(invoice.rbm_debit_mandate_id, mandate)
        self.assertFalse(invoice.rbm_boleto_ids)

    # ------------------------------------------------------------------
    # The rule of return lines
    # ------------------------------------------------------------------

    def test_a_line_that_failed_is_tried_again(self):
        """The rule of every return line (the same for CNAB 240/400): a line
        applied once is a duplicate in any later file; a line that changed
        nothing (a problem) is tried again when it comes again."""
        lines = [self._b("NOBODY"), self._b("CLI-0001")]
        first, preview = self._import(self._return_150(lines), "optin.ret")
        self.assertEqual([status for *_x, status in preview], ["problem", "new"])
        self.assertEqual(first.occurrence_ids.mapped("status"), ["problem", "applied"])
        second, preview = self._import(self._return_150(lines, nsa=2), "optin2.ret")
        self.assertEqual([status for *_x, status in preview], ["problem", "duplicate"])
        self.assertEqual(second.duplicate_count, 1)
        self.assertEqual(second.occurrence_ids.mapped("status"), ["problem"])
        self.assertIn("NOBODY", second.occurrence_ids.message)
        # a problem line is logged again; an applied one only once (unique index)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            first.occurrence_ids.filtered(lambda o: o.status == "applied").copy(
                {"file_id": second.id, "line_number": 99}
            )

    # ------------------------------------------------------------------
    # Full cycle
    # ------------------------------------------------------------------

    @freeze_time("2026-03-02")
    def test_full_cycle(self):
        # the customer authorized at the bank with the identifier given by the company
        draft = self.env["rbm.debit.mandate"].create(
            {
                "partner_id": self.customer.id,
                "collection_account_id": self.account.id,
                "branch": "0810",
                "account_number": "999999",
            }
        )
        self.assertEqual((draft.identifier, draft.state), ("CLI-0001", "draft"))
        # record B: customer A's mandate activated, customer B's created from the
        # reference, an unknown identifier refused
        opt_in = self._return_150(
            [self._b("CLI-0001"), self._b("CLI-0002", account="77777"), self._b("NOBODY")]
        )
        mandate_file, preview = self._import(opt_in, "optin.ret")
        self.assertEqual([status for *_x, status in preview], ["new", "new", "problem"])
        self.assertEqual(
            (draft.state, draft.account_number, draft.authorization_date),
            ("active", "0012345X", date(2026, 2, 20)),
        )
        mandate_b = self.env["rbm.debit.mandate"].search([("partner_id", "=", self.customer_b.id)])
        self.assertEqual(
            (mandate_b.identifier, mandate_b.state, mandate_b.origin, mandate_b.account_number),
            ("CLI-0002", "active", "bank", "77777"),
        )
        problem = mandate_file.occurrence_ids.filtered(lambda o: o.status == "problem")
        self.assertEqual(problem.line_number, 4)
        self.assertIn("NOBODY", problem.message)
        # a line not applied is not a duplicate: the bank's next file applies it
        nobody = self.customer.copy({"name": "Nobody Ltda", "ref": "NOBODY", "vat": False})
        self._import(self._return_150([self._b("NOBODY")], nsa=9), "optin2.ret")
        self.assertEqual(
            self.env["rbm.debit.mandate"].search([("partner_id", "=", nobody.id)]).state, "active"
        )

        # invoices of contracts paid by direct debit
        invoice_a = self._bill_contract(payment_mode="direct_debit")
        invoice_b = self._bill_contract(partner=self.customer_b, payment_mode="direct_debit")
        self.assertEqual(invoice_a.rbm_debit_mandate_id, draft)
        self.assertEqual(invoice_b.rbm_debit_mandate_id, mandate_b)
        # a boleto invoice is not debited
        self._bill_contract()

        # remittance: one E record per installment, NSA 1, downloadable
        remittance, skipped = self.env["rbm.debit.file"]._generate_remittance(
            self.account, date(2026, 3, 31)
        )
        self.assertFalse(skipped)
        self.assertEqual((remittance.direction, remittance.nsa), ("remittance", 1))
        self.assertEqual(self.account.next_debit_nsa, 2)
        self.assertIn("/datas/DEB341_20260302_000001.rem", remittance.action_download()["url"])
        parsed = cnab150.parse_cnab150(base64.b64decode(remittance.datas))
        header = parsed.header
        self.assertEqual(
            (header["file_type"], header["agreement"], header["bank"], header["file_sequence"]),
            ("1", AGREEMENT, "341", 1),
        )
        debits = invoice_a.rbm_debit_ids | invoice_b.rbm_debit_ids
        self.assertEqual(len(debits), 2)
        debit_a, debit_b = invoice_a.rbm_debit_ids, invoice_b.rbm_debit_ids
        es = parsed.of_kind("E")
        self.assertEqual(
            [(e["customer_id"], e["branch"], e["account_id"], e["amount"]) for e in es],
            [
                ("CLI-0001", "0810", "0012345X", Decimal("150.00")),
                ("CLI-0002", "0810", "77777", Decimal("150.00")),
            ],
        )
        self.assertEqual([e["due_date"] for e in es], [debit_a.due_date, debit_b.due_date])
        self.assertEqual(debit_a.due_date, invoice_a.invoice_date_due)
        self.assertEqual([e["company_use"] for e in es], [f"RBMD{debit_a.id}", f"RBMD{debit_b.id}"])
        self.assertEqual(parsed.records[-1]["total"], Decimal("300.00"))
        self.assertEqual(set(debits.mapped("state")), {"sent"})
        self.assertEqual(remittance.total_amount, 300.0)

        # each installment is sent once: nothing left, and the database refuses a second debit
        with self.assertRaisesRegex(UserError, "no installment to debit"):
            self.account.action_generate_debit_remittance()
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            debit_a.copy()

        # return: A debited (00), B refused for insufficient funds (01)
        content = self._return_150([self._f(debit_a, "00"), self._f(debit_b, "01")], nsa=2)
        return_file, preview = self._import(content)
        self.assertEqual(preview, [(2, "F", "new"), (3, "F", "new")])
        self.assertTrue(invoice_a.payment_state in ("paid", "in_payment"))
        self.assertEqual(invoice_a.amount_residual, 0.0)
        payment = debit_a.payment_id
        self.assertEqual(
            (payment.date, payment.amount, payment.journal_id),
            (date(2026, 3, 10), 150.0, self.bank_journal),
        )
        self.assertIn(payment.state, ("in_process", "paid"))
        self.assertTrue(payment.move_id.line_ids.filtered("reconciled"))
        self.assertEqual((debit_a.state, debit_a.return_code), ("paid", "00"))
        self.assertEqual(return_file.payment_count, 1)
        # the failure is logged on the invoice and in the file; the invoice stays open
        self.assertEqual(invoice_b.payment_state, "not_paid")
        self.assertEqual(invoice_b.amount_residual, 150.0)
        self.assertEqual(
            (debit_b.state, debit_b.return_description), ("failed", "Insuficiência de fundos")
        )
        note = invoice_b.message_ids.filtered(lambda m: "not made by the bank" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertIn("01 - Insuficiência de fundos", note.body)
        failed_line = return_file.occurrence_ids.filtered(lambda o: o.debit_id == debit_b)
        self.assertEqual((failed_line.code, failed_line.status), ("01", "applied"))
        self.assertEqual(failed_line.description, "Insuficiência de fundos")
        # a failed installment is not sent again automatically
        with self.assertRaisesRegex(UserError, "no installment to debit"):
            self.account.action_generate_debit_remittance()

        # the same file again: refused; the same lines in another file: skipped
        before = self._counts()
        with self.assertRaisesRegex(UserError, "already imported"):
            self._import(content)
        again, preview = self._import(
            self._return_150([self._f(debit_a, "00"), self._f(debit_b, "01")], nsa=3)
        )
        self.assertEqual([status for *_x, status in preview], ["duplicate", "duplicate"])
        self.assertEqual(again.duplicate_count, 2)
        after = self._counts()
        self.assertEqual(after[:2] + after[3:], before[:2] + before[3:])
        self.assertEqual(after[2], before[2] + 1)
        # and the database refuses a line applied twice, whatever the caller
        applied = return_file.occurrence_ids[:1]
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            applied.copy({"file_id": again.id})

        # a malformed line: refused with its line number and field, nothing applied
        lines = self._return_150(
            [self._b("CLI-0001", movement="1"), self._f(debit_b, "00")], nsa=4
        ).split(b"\r\n")
        lines[2] = lines[2][:52] + b"00000000001500X" + lines[2][67:]
        before = self._counts()
        with self.assertRaisesRegex(UserError, r"Line 3: amount"):
            self._import(b"\r\n".join(lines))
        self.assertEqual(self._counts(), before)
        self.assertEqual(draft.state, "active")

        # opt-out from the bank cancels the mandate
        self._import(self._return_150([self._b("CLI-0001", movement="1")], nsa=5))
        self.assertEqual((draft.state, draft.cancel_date), ("cancelled", date(2026, 2, 20)))

    @freeze_time("2026-03-02")
    def test_unmatched_and_wrong_agreement(self):
        self._active_mandate()
        invoice = self._bill_contract(payment_mode="direct_debit")
        remittance, _skipped = self.env["rbm.debit.file"]._generate_remittance(
            self.account, date(2026, 3, 31)
        )
        debit = invoice.rbm_debit_ids
        self.assertEqual(remittance.debit_ids, debit)
        # a return of another agreement is refused naming the field
        content = self._return_150([self._f(debit, "00")]).replace(AGREEMENT.encode(), b"OUTRO12")
        with self.assertRaisesRegex(UserError, "Line 1: agreement"):
            self._import(content)
        # a result naming no debit of ours is logged, not applied
        forged = self._f(debit, "00")
        forged[1]["company_use"] = "RBMD999999"
        result, preview = self._import(self._return_150([forged]))
        self.assertEqual(preview, [(2, "F", "problem")])
        self.assertFalse(result.occurrence_ids.payment_id)
        self.assertEqual(invoice.payment_state, "not_paid")
        # cancelled at the company's request (99): it can be sent again
        self._import(self._return_150([self._f(debit, "99")], nsa=2))
        self.assertEqual(debit.state, "cancelled")
        again, _skipped = self.env["rbm.debit.file"]._generate_remittance(
            self.account, date(2026, 3, 31)
        )
        self.assertEqual(again.nsa, 2)
        self.assertEqual(len(invoice.rbm_debit_ids), 2)

    @freeze_time("2026-03-02")
    def test_unknown_opt_in_refused_at_the_bank(self):
        optin, preview = self._import(self._return_150([self._b("NOBODY", account="55555")]))
        self.assertEqual([status for *_x, status in preview], ["problem"])
        line = optin.occurrence_ids
        # only an opt-in not applied can be refused, once
        self._import(self._return_150([self._b("CLI-0001")], nsa=2))
        applied = self.env["rbm.debit.occurrence"].search(
            [("record_type", "=", "B"), ("status", "=", "applied")]
        )
        with self.assertRaisesRegex(UserError, "only an opt-in from the bank"):
            applied.action_refuse_at_bank()
        line.action_refuse_at_bank()
        self.assertEqual(line.refusal_state, "to_send")
        with self.assertRaisesRegex(UserError, r"already refused \(To Send\)"):
            line.action_refuse_at_bank()
        # the next remittance carries it as a record C, even with nothing to debit
        remittance, _skipped = self.env["rbm.debit.file"]._generate_remittance(
            self.account, date(2026, 3, 31)
        )
        parsed = cnab150.parse_cnab150(base64.b64decode(remittance.datas))
        self.assertFalse(parsed.errors)
        (refusal,) = parsed.of_kind("C")
        self.assertEqual(
            (refusal["customer_id"], refusal["branch"], refusal["account_id"]),
            ("NOBODY", "0810", "55555"),
        )
        self.assertIn("NOBODY", refusal["occurrence1"] + refusal["occurrence2"])
        self.assertFalse(parsed.of_kind("E"))
        self.assertEqual((line.refusal_state, line.refusal_file_id), ("sent", remittance))
        self.assertEqual(remittance.occurrence_ids.mapped("record_type"), ["C"])
        # sent once
        with self.assertRaisesRegex(UserError, "no installment to debit"):
            self.account.action_generate_debit_remittance()

    @freeze_time("2026-03-02")
    def test_refused_debit_sent_again(self):
        self.account.write(
            {"debit_retry_count": 2, "debit_retry_days": 3, "debit_retry_codes": "01, 05"}
        )
        self._active_mandate()
        invoice_a = self._bill_contract(payment_mode="direct_debit")
        invoice_b = self._bill_contract(payment_mode="direct_debit")
        Files = self.env["rbm.debit.file"]

        def remittance(horizon):
            return Files._generate_remittance(self.account, horizon)[0]

        def chatter(invoice):
            return invoice.message_ids.filtered(lambda m: "not made by the bank" in (m.body or ""))

        first = remittance(date(2026, 3, 31))
        d1, e1 = invoice_a.rbm_debit_ids, invoice_b.rbm_debit_ids
        self.assertEqual((d1.attempt, d1.due_date, e1.attempt), (1, date(2026, 3, 10), 1))
        self.assertEqual(first.debit_ids, d1 | e1)
        # A refused for insufficient funds (re-presented), B for a closed account (final)
        self._import(self._return_150([self._f(d1, "01"), self._f(e1, "02")], nsa=1))
        self.assertEqual((d1.state, d1.retry_date), ("failed", date(2026, 3, 13)))
        self.assertEqual((e1.state, e1.retry_date), ("failed", False))
        self.assertIn("attempt 2 of 3", chatter(invoice_a).body)
        self.assertIn("stays open for collection", chatter(invoice_b).body)
        # a remittance before the retry day (today + 10 days) leaves it out,
        # saying why; B is never sent again
        with self.assertRaisesRegex(
            UserError,
            r"no installment to debit\.\n.*: refused by the bank, sent again for "
            r"03/13/2026 \(attempt 2\)\.$",
        ):
            self.account.action_generate_debit_remittance()
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            e1.copy({"state": "sent"})

        # the remittance that reaches the retry day sends A again, for that day
        second = remittance(date(2026, 3, 31))
        d2 = invoice_a.rbm_debit_ids - d1
        self.assertEqual(second.debit_ids, d2)
        self.assertEqual((d2.attempt, d2.due_date, d2.state), (2, date(2026, 3, 13), "sent"))
        parsed = cnab150.parse_cnab150(base64.b64decode(second.datas))
        self.assertEqual([e["due_date"] for e in parsed.of_kind("E")], [date(2026, 3, 13)])
        # one live debit per installment, whatever the caller
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            d2.copy()
        self.assertFalse(remittance(date(2026, 3, 31)))

        # refused again (over the limit, 05): the last attempt on 16/03
        self._import(self._return_150([self._f(d2, "05", debit_date=date(2026, 3, 13))], nsa=2))
        self.assertEqual(d2.retry_date, date(2026, 3, 16))
        third = remittance(date(2026, 3, 31))
        d3 = invoice_a.rbm_debit_ids - d1 - d2
        self.assertEqual((third.debit_ids, d3.attempt, d3.due_date), (d3, 3, date(2026, 3, 16)))
        # the last attempt refused: no more re-presentation, left to collection
        content = self._return_150([self._f(d3, "01", debit_date=date(2026, 3, 16))], nsa=3)
        result, _preview = self._import(content)
        self.assertEqual((d3.state, d3.retry_date), ("failed", False))
        self.assertIn("stays open for collection", chatter(invoice_a)[0].body)
        self.assertIn("stays open", result.occurrence_ids.message)
        with self.assertRaisesRegex(UserError, "no installment to debit"):
            self.account.action_generate_debit_remittance()
        self.assertEqual(invoice_a.amount_residual, 150.0)
        # the same refusal brought by another file changes nothing
        again, preview = self._import(
            self._return_150([self._f(d3, "01", debit_date=date(2026, 3, 16))], nsa=4)
        )
        self.assertEqual([status for *_x, status in preview], ["duplicate"])
        self.assertEqual(len(invoice_a.rbm_debit_ids), 3)

    def test_retry_settings_validated(self):
        with self.assertRaisesRegex(ValidationError, "Codes Re-presented: 1 is not a two-digit"):
            self.account.debit_retry_codes = "01,1"
        with self.assertRaisesRegex(ValidationError, "Codes Re-presented: 00 is not a refusal"):
            self.account.debit_retry_codes = "00"
        with self.assertRaisesRegex(ValidationError, "99 is not a refusal"):
            self.account.debit_retry_codes = "01,99"
        for values in ({"debit_retry_count": 6}, {"debit_retry_days": 0}):
            with (
                mute_logger("odoo.sql_db"),
                self.assertRaises(IntegrityError),
                self.cr.savepoint(),
            ):
                self.account.write(values)
                self.account.flush_recordset()
        self.account.debit_retry_codes = " 01 ,05,"
        self.assertEqual(self.account._get_debit_retry_codes(), {"01", "05"})


@tagged("post_install", "-at_install")
class TestDebitPortal(RbmDunningCase, HttpCase):
    """The subscription page tells a customer paying by direct debit how
    their debit stands, and only them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.debit_agreement = AGREEMENT
        cls.customer.ref = "CLI-0001"
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "João Silva", "email": "joao@example.com", "ref": "CLI-0002"}
        )
        for partner, login in ((cls.customer, "maria"), (cls.other_customer, "joao")):
            cls.env["res.users"].with_context(no_reset_password=True).create(
                {
                    "login": login,
                    "password": f"{login}-password",
                    "partner_id": partner.id,
                    "groups_id": [Command.set([cls.env.ref("base.group_portal").id])],
                }
            )

    def _contract(self, partner):
        contract = self.env["rbm.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": self.plan.id,
                "date_start": date(2026, 3, 1),
                "payment_mode": "direct_debit",
            }
        )
        contract.action_activate()
        return contract

    def _page(self, contract):
        response = self.url_open(f"/my/subscriptions/{contract.id}")
        return response.status_code, response.text

    def test_subscription_page_shows_the_debit(self):
        contract = self._contract(self.customer)
        other = self._contract(self.other_customer)
        self.authenticate("maria", "maria-password")
        # no mandate yet: how to authorize it at the bank, with her identifier
        status, page = self._page(contract)
        self.assertEqual(status, 200)
        self.assertIn("o_rbm_subscription_debit", page)
        self.assertIn("CLI-0001", page)
        self.assertIn("authorize the direct debit", page)
        # the bank confirmed it: where the invoices are debited from
        mandate = self._active_mandate()
        mandate.account_number = "00123456"
        status, page = self._page(contract)
        self.assertIn("are debited from your account", page)
        self.assertIn("•••• 3456", page)
        self.assertNotIn("00123456", page)
        # another customer's subscription is not hers to see: sent back to /my
        response = self.url_open(f"/my/subscriptions/{other.id}", allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303))
        self.assertNotIn("CLI-0002", response.text)
        self.assertNotIn("CLI-0002", self._page(other)[1])
        # a subscription paid otherwise has no direct debit block
        contract.payment_mode = "boleto"
        status, page = self._page(contract)
        self.assertNotIn("o_rbm_subscription_debit", page)
        # the other customer sees their own identifier, not hers
        self.authenticate("joao", "joao-password")
        status, page = self._page(other)
        self.assertEqual(status, 200)
        self.assertIn("CLI-0002", page)
        self.assertNotIn("CLI-0001", page)
        self.assertNotIn("3456", page)
