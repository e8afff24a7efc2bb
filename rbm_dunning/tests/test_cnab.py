import base64
from datetime import date
from decimal import Decimal

from psycopg2 import IntegrityError

from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..engine import cnab
from .common import RbmDunningCase


@tagged("post_install", "-at_install")
class TestCnab(RbmDunningCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer_b = cls.customer.copy(
            {"name": "Oficina Beta Ltda", "vat": "11.222.333/0001-81"}
        )

    def setUp(self):
        super().setUp()
        self.invoice_a = self._bill_contract()
        self.invoice_b = self._bill_contract(partner=self.customer_b)
        self.invoice_c = self._bill_contract(start=date(2026, 4, 1))
        self.boleto_a = self.invoice_a.rbm_boleto_ids
        self.boleto_b = self.invoice_b.rbm_boleto_ids
        self.boleto_c = self.invoice_c.rbm_boleto_ids

    def _counts(self):
        return (
            self.env["account.payment"].search_count(
                [("partner_id", "in", (self.customer | self.customer_b).ids)]
            ),
            self.env["rbm.cnab.occurrence"].search_count([("direction", "=", "return")]),
            self.env["rbm.cnab.file"].search_count([("direction", "=", "return")]),
            self.env["account.move"].search_count([("journal_id", "=", self.bank_journal.id)]),
        )

    # ------------------------------------------------------------------
    # Remittance
    # ------------------------------------------------------------------

    def test_remittance(self):
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual((remittance.direction, remittance.nsa), ("remittance", 1))
        self.assertEqual(self.account.next_nsa, 2)
        content = base64.b64decode(remittance.datas)
        parsed = cnab.parse_cnab240(content)
        header = parsed.header
        self.assertEqual(
            (header["bank"], header["file_type"], header["file_sequence"]), ("341", "1", 1)
        )
        self.assertEqual(header["company_document"][-14:], "16727230000197")
        ps = parsed.of_kind("P")
        boletos = self.boleto_a | self.boleto_b | self.boleto_c
        self.assertEqual(len(ps), 3)
        for p, boleto in zip(ps, boletos, strict=True):
            self.assertEqual(p["movement"], "01")
            self.assertEqual(p["portfolio"], "109")
            self.assertEqual(f"109/{p['our_number']}-{p['our_number_digit']}", boleto.our_number)
            self.assertEqual(p["amount"], Decimal("150.00"))
            self.assertEqual(p["due_date"], boleto.due_date)
            self.assertEqual(p["document_number"], boleto.move_id.name)
            # a subscription company bills services: espécie DS, FEBRABAN code 04
            self.assertEqual(p["document_kind"], "04")
            # default instructions: 1% a month as a daily value, 2% fine
            self.assertEqual((p["interest_code"], p["interest"]), ("1", Decimal("0.05")))
        qs = parsed.of_kind("Q")
        self.assertEqual(qs[0]["payer_document"], "000039053344705")
        self.assertEqual(qs[0]["payer_name"], "MARIA JOSE DA CONCEICAO")
        self.assertEqual(qs[1]["payer_document"], "011222333000181")
        self.assertEqual(
            [(r["fine_code"], r["fine"]) for r in parsed.of_kind("R")], [("2", Decimal("2.00"))] * 3
        )
        self.assertEqual(set(boletos.mapped("state")), {"in_remessa"})
        self.assertFalse(any(boletos.mapped("pending_instruction")))
        self.assertEqual(remittance.occurrence_ids.boleto_id, boletos)
        self.assertEqual(remittance.occurrence_ids.mapped("line_number"), [3, 6, 9])
        # nothing left to send
        self.assertFalse(self.env["rbm.cnab.file"]._generate_remittance(self.account))
        # a company selling goods sets DM: FEBRABAN code 02, printed DM on the boleto
        self.account.document_species = "DM"
        invoice = self._bill_contract(start=date(2026, 4, 1))
        parsed = cnab.parse_cnab240(
            base64.b64decode(self.env["rbm.cnab.file"]._generate_remittance(self.account).datas)
        )
        self.assertEqual([p["document_kind"] for p in parsed.of_kind("P")], ["02"])
        self.assertEqual(invoice.rbm_boleto_ids._get_report_values()["document_species"], "DM")
        with self.assertRaises(UserError):
            self.account.action_generate_remittance()

    def test_remittance_leaves_out_payer_without_tax_id(self):
        self.customer_b.vat = False
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        # the other titles are sent; B stays pending with its reason
        self.assertEqual(remittance.occurrence_ids.boleto_id, self.boleto_a | self.boleto_c)
        self.assertEqual(self.account.next_nsa, 2)
        self.assertEqual(
            (self.boleto_b.state, self.boleto_b.pending_instruction), ("draft", "entry")
        )
        self.assertIn("Oficina Beta", self.boleto_b.remittance_problem)
        self.assertIn(self.boleto_b.our_number, remittance.left_out_note)

    # ------------------------------------------------------------------
    # Return
    # ------------------------------------------------------------------

    def test_return_settles_invoices_once(self):
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": self.boleto_a,
                    "amount_paid": "155.30",
                    "interest_fine": "5.30",
                    "fee": "2.50",
                    "occurrence_date": date(2026, 3, 11),
                    "credit_date": date(2026, 3, 12),
                },
                {"occurrence": "02", "boleto": self.boleto_b, "fee": "1.10"},
                {"occurrence": "03", "boleto": self.boleto_c, "reasons": "A4  0312"},
            ]
        )
        cnab_file, preview = self._import(content)
        self.assertEqual(
            preview,
            [(3, "new", self.boleto_a), (5, "new", self.boleto_b), (7, "new", self.boleto_c)],
        )
        # paid: payment on the credit date for the amount paid, reconciled
        payment = self.boleto_a.payment_id
        self.assertEqual(self.boleto_a.state, "paid")
        self.assertEqual((payment.date, payment.amount), (date(2026, 3, 12), 155.30))
        self.assertEqual(payment.journal_id, self.bank_journal)
        self.assertTrue(payment.is_reconciled)
        self.assertIn(self.invoice_a.payment_state, ("paid", "in_payment"))
        self.assertEqual(self.invoice_a.amount_residual, 0.0)
        interest = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == self.interest_account
        )
        self.assertEqual((interest.credit, interest.debit), (5.30, 0.0))
        receivable = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == self.boleto_a.move_line_id.account_id
        )
        self.assertEqual(receivable.credit, 150.0)
        self.assertTrue(receivable.reconciled)
        # fees: one entry for the file, to the fee account
        fees = cnab_file.fee_move_id
        self.assertEqual(fees.state, "posted")
        fee_lines = fees.line_ids.filtered(lambda line: line.account_id == self.fee_account)
        self.assertEqual(sorted(fee_lines.mapped("debit")), [1.10, 2.50])
        self.assertEqual(sum(fees.line_ids.mapped("credit")), 3.60)
        # registered and rejected
        self.assertEqual(self.boleto_b.state, "registered")
        self.assertEqual(self.invoice_b.payment_state, "not_paid")
        self.assertEqual(self.boleto_c.state, "rejected")
        self.assertEqual(self.boleto_c.rejection_reasons, "A4 03 12")
        self.assertEqual(
            cnab_file.occurrence_ids.mapped("kind"), ["paid", "registered", "rejected"]
        )
        self.assertEqual(cnab_file.occurrence_ids.payment_id, payment)

        # the same file again: refused, nothing changes
        counts = self._counts()
        with self.assertRaises(UserError) as caught:
            self._import(content)
        self.assertIn("already imported", str(caught.exception))
        self.assertEqual(self._counts(), counts)
        # the same lines in another file (other NSA): skipped
        again = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": self.boleto_a,
                    "amount_paid": "155.30",
                    "interest_fine": "5.30",
                    "fee": "2.50",
                    "occurrence_date": date(2026, 3, 11),
                    "credit_date": date(2026, 3, 12),
                },
                {"occurrence": "09", "boleto": self.boleto_b},
            ],
            nsa=8,
        )
        second, preview = self._import(again)
        self.assertEqual(preview[0][1], "duplicate")
        self.assertEqual(second.duplicate_count, 1)
        self.assertFalse(second.payment_ids)
        self.assertEqual(len(self.boleto_a.occurrence_ids.filtered(lambda o: o.kind == "paid")), 1)
        self.assertEqual(self.boleto_b.state, "written_off")

    def test_back_office_forms(self):
        """The forms a user opens along the way load and show the records."""
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        content = self._return_240([{"occurrence": "02", "boleto": self.boleto_a}])
        returned, _preview = self._import(content)
        for record in (self.account, self.boleto_a, remittance, returned, returned.occurrence_ids):
            with self.subTest(model=record._name):
                form = Form(record)
                self.assertEqual(form.id, record.id)
        wizard = Form(
            self.env["rbm.cnab.import.wizard"].with_context(
                default_collection_account_id=self.account.id
            )
        )
        wizard.data = base64.b64encode(content)
        self.assertEqual(wizard.save().state, "upload")
        self.assertEqual(Form(self.invoice_a).rbm_boleto_count, 1)

    def test_the_database_refuses_an_occurrence_twice(self):
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        content = self._return_240([{"occurrence": "02", "boleto": self.boleto_a}])
        cnab_file, _preview = self._import(content)
        occurrence = cnab_file.occurrence_ids
        other = cnab_file.copy({"file_hash": "other", "datas": False})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            occurrence.copy({"file_id": other.id})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            cnab_file.copy({"datas": False})

    def test_unknown_our_number_and_paid_twice(self):
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        first = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": self.boleto_a,
                    "amount_paid": "150.00",
                    "credit_date": date(2026, 3, 12),
                },
            ]
        )
        self._import(first)
        second = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": self.boleto_a,
                    "amount_paid": "150.00",
                    "occurrence_date": date(2026, 3, 13),
                    "credit_date": date(2026, 3, 13),
                },
                {
                    "occurrence": "06",
                    "boleto": self.boleto_b,
                    "our_number": "00009999",
                    "amount_paid": "10.00",
                    "credit_date": date(2026, 3, 13),
                },
            ],
            nsa=9,
        )
        cnab_file, preview = self._import(second)
        self.assertEqual([status for _n, status, _b in preview], ["problem", "problem"])
        paid_twice, unknown = cnab_file.occurrence_ids
        # money received twice is booked, and left open for the customer
        self.assertTrue(paid_twice.payment_id)
        self.assertFalse(paid_twice.payment_id.is_reconciled)
        self.assertIn("already paid", paid_twice.message)
        self.assertFalse(unknown.boleto_id)
        self.assertFalse(unknown.payment_id)
        self.assertIn("No boleto with our number", unknown.message)

    def test_a_line_that_failed_is_tried_again(self):
        """The rule of every return line (the same for CNAB 150): a line
        applied once is a duplicate in any later file; a line that changed
        nothing (a problem) is tried again when it comes again."""
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        unknown = {"occurrence": "02", "boleto": self.boleto_b, "our_number": "00009999"}
        registered = {"occurrence": "02", "boleto": self.boleto_a}
        first, preview = self._import(self._return_240([unknown, registered]))
        self.assertEqual([status for _n, status, _b in preview], ["problem", "new"])
        self.assertEqual(first.occurrence_ids.mapped("status"), ["problem", "applied"])
        second, preview = self._import(self._return_240([unknown, registered], nsa=8))
        self.assertEqual([status for _n, status, _b in preview], ["problem", "duplicate"])
        self.assertEqual(second.duplicate_count, 1)
        self.assertEqual(second.occurrence_ids.mapped("status"), ["problem"])
        self.assertIn("No boleto with our number", second.occurrence_ids.message)
        # a problem line is logged again; an applied one only once (unique index)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            first.occurrence_ids.filtered(lambda o: o.status == "applied").copy(
                {"file_id": second.id, "line_number": 99}
            )

    def test_money_booked_for_a_line_with_a_problem_is_booked_once(self):
        """A boleto paid twice: the second payment is booked (a problem for
        the boleto, but applied); the same line in a later file is a
        duplicate and books nothing."""
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        amount = f"{self.boleto_a.amount:.2f}"
        self._import(
            self._return_240([{"occurrence": "06", "boleto": self.boleto_a, "amount_paid": amount}])
        )
        again = {
            "occurrence": "06",
            "boleto": self.boleto_a,
            "amount_paid": amount,
            "occurrence_date": date(2026, 3, 13),
        }
        second, preview = self._import(self._return_240([again], nsa=8))
        self.assertEqual(preview[0][1], "problem")
        self.assertEqual(second.occurrence_ids.status, "applied")
        self.assertTrue(second.payment_ids)
        counts = self._counts()
        third, preview = self._import(self._return_240([again], nsa=9))
        self.assertEqual(preview[0][1], "duplicate")
        self.assertFalse(third.payment_ids)
        self.assertEqual(self._counts()[0], counts[0])

    def test_malformed_line_refuses_the_whole_file(self):
        self.env["rbm.cnab.file"]._generate_remittance(self.account)
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": self.boleto_a,
                    "amount_paid": "150.00",
                    "credit_date": date(2026, 3, 12),
                },
                {
                    "occurrence": "06",
                    "boleto": self.boleto_b,
                    "amount_paid": "150.00",
                    "credit_date": date(2026, 3, 12),
                },
            ]
        )
        lines = content.decode("latin-1").split("\r\n")
        # line 6 is the U segment of the second title: letters in the amount paid
        lines[5] = lines[5][:77] + "0000000001X0000" + lines[5][92:]
        counts = self._counts()
        states = (self.boleto_a | self.boleto_b).mapped("state")
        with self.assertRaises(UserError) as caught:
            self._import("\r\n".join(lines).encode("latin-1"))
        message = str(caught.exception)
        self.assertIn("Line 6: amount_paid", message)
        self.assertIn("nothing was changed", message)
        self.assertEqual(self._counts(), counts)
        self.assertEqual((self.boleto_a | self.boleto_b).mapped("state"), states)

    def test_return_of_another_bank_or_account(self):
        content = self._return_240([{"occurrence": "02", "boleto": self.boleto_a}])
        lines = content.decode("latin-1").split("\r\n")
        lines[0] = lines[0][:58] + "000000099999" + lines[0][70:]  # header account
        with self.assertRaises(UserError) as caught:
            self._import("\r\n".join(lines).encode("latin-1"))
        self.assertIn("Line 1: account", str(caught.exception))
        with self.assertRaises(UserError) as caught:
            self._import(b"0" * 100 + b"\r\n")
        self.assertIn("240 or 400 characters", str(caught.exception))
