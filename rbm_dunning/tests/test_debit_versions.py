"""Direct debit agreements in CNAB 150 layout versions 05 and 08.

Positions cited from the FEBRABAN "Manual do Débito Automático": versão 05
(06.05.2008) and versão 08 (standard of 27.05.2020, manual of 03.11.2020),
records A (header), B (opt-in/out), E (debit) and F (result). In a line,
positions ``a-b`` are the slice ``[a - 1:b]``."""

import base64
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from ..engine import cnab150
from .common import RbmDunningCase

AGREEMENT = "CONV123"
# the customer's CPF 390.533.447-05 in 15 positions: 4 zeros, then the 11 digits
CPF_15 = "000039053344705"


def _pos(line, start, end):
    return line[start - 1 : end]


@tagged("post_install", "-at_install")
class TestDebitVersions(RbmDunningCase):
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

    def _set_version(self, version, fill=None):
        """The agreement's version chosen on its form, as a user does."""
        with Form(self.account) as form:
            form.debit_layout_version = version
            if fill:
                form.debit_account_fill = fill
        self.assertEqual(self.account.debit_layout_version, version)

    def _mandate(self, partner, identifier, account_number):
        mandate = self.env["rbm.debit.mandate"].create(
            {
                "partner_id": partner.id,
                "collection_account_id": self.account.id,
                "identifier": identifier,
                "branch": "0810",
                "account_number": account_number,
            }
        )
        mandate.action_activate()
        return mandate

    def _return(self, version, lines, nsa=1):
        """A return in layout ``version``: ``lines`` are ("B"|"F", values)."""
        records = cnab150.LAYOUTS[version]
        out = [
            records["A"].to_line(
                {
                    "file_type": "2",
                    "agreement": AGREEMENT,
                    "company_name": "EMPRESA",
                    "bank": "341",
                    "bank_name": "BANCO ITAU",
                    "generated_on": date(2026, 3, 11),
                    "file_sequence": nsa,
                }
            )
        ]
        total = Decimal(0)
        for kind, values in lines:
            if kind == "F":
                total += values["amount"]
            out.append(records[kind].to_line(values))
        out.append(records["Z"].to_line({"record_count": len(out) + 1, "total": total}))
        return ("\r\n".join(out) + "\r\n").encode("latin-1")

    def _f(self, debit, code, amount=None, document=CPF_15):
        values = {
            "customer_id": debit.mandate_id.identifier,
            "branch": debit.mandate_id.branch,
            "account_id": debit.mandate_id.account_number,
            "debit_date": date(2026, 3, 10),
            "amount": Decimal(str(amount if amount is not None else debit.amount)),
            "return_code": code,
            "company_use": debit._company_use(),
            "movement": "0",
        }
        if document:
            values.update(payer_document_type="2", payer_document=document)
        return ("F", values)

    def _import(self, content, filename):
        wizard = self.env["rbm.debit.import.wizard"].create(
            {
                "collection_account_id": self.account.id,
                "data": base64.b64encode(content),
                "filename": filename,
            }
        )
        wizard.action_preview()
        action = wizard.action_import()
        return self.env["rbm.debit.file"].browse(action["res_id"])

    @contextmanager
    def _refused(self, pattern):
        """ValidationError matching ``pattern``, the changes rolled back."""
        with self.assertRaises(ValidationError) as caught:
            yield
        self.assertRegex(str(caught.exception), pattern)

    def _remittance_lines(self):
        action = self.account.action_generate_debit_remittance()
        remittance = self.env["rbm.debit.file"].browse(action["res_id"])
        return remittance, base64.b64decode(remittance.datas).decode("latin-1").split("\r\n")[:-1]

    # ------------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------------

    def test_existing_agreements_default_to_04(self):
        other = self._make_collection_account(name="Itaú 2", debit_agreement="CONV999")
        self.assertEqual((other.debit_layout_version, other.debit_account_fill), ("04", "spaces"))
        self.assertEqual(self.account.debit_layout_version, "04")

    @freeze_time("2026-03-02")
    def test_version_05_cycle(self):
        self._set_version("05")
        self._mandate(self.customer, "CLI-0001", "999999")
        self._mandate(self.customer_b, "CLI-0002", "77777")
        invoice_a = self._bill_contract(payment_mode="direct_debit")
        invoice_b = self._bill_contract(partner=self.customer_b, payment_mode="direct_debit")
        remittance, lines = self._remittance_lines()
        header, e_a, e_b, trailer = lines
        self.assertEqual(_pos(header, 80, 81), "05")  # A.09 layout version
        # E: 31-44 account, 45-52 due date, 53-67 amount 150.00, 68-69 currency 03
        self.assertEqual(_pos(e_a, 2, 26), "CLI-0001".ljust(25))
        self.assertEqual(_pos(e_a, 31, 44), "999999".ljust(14))
        self.assertEqual(_pos(e_a, 45, 52), "20260310")
        self.assertEqual(_pos(e_a, 53, 67), "000000000015000")
        self.assertEqual(_pos(e_a, 68, 69), "03")
        # 70-128 company use (the debit's reference), 129 blank
        debit_a, debit_b = invoice_a.rbm_debit_ids, invoice_b.rbm_debit_ids
        self.assertEqual(_pos(e_a, 70, 129), f"RBMD{debit_a.id}".ljust(60))
        # 130 document type (2 CPF, 1 CNPJ) and 131-145 the document in 15 digits
        self.assertEqual((_pos(e_a, 130, 130), _pos(e_a, 131, 145)), ("2", CPF_15))
        self.assertEqual((_pos(e_b, 130, 130), _pos(e_b, 131, 145)), ("1", "011222333000181"))
        self.assertEqual((_pos(e_a, 146, 149), _pos(e_a, 150, 150)), ("    ", "0"))
        # Z: 4 records, 150.00 + 150.00 = 300.00
        self.assertEqual(
            (_pos(trailer, 2, 7), _pos(trailer, 8, 24)), ("000004", "0" * 12 + "30000")
        )
        self.assertEqual(remittance.total_amount, 300.0)

        # return in 05: A debited (00); B refused, the account is not the CNPJ's (19)
        content = self._return(
            "05", [self._f(debit_a, "00"), self._f(debit_b, "19", document="011222333000181")]
        )
        self._import(content, "RET05.ret")
        self.assertIn(invoice_a.payment_state, ("paid", "in_payment"))
        self.assertEqual(debit_a.payment_id.amount, 150.0)
        self.assertEqual(invoice_b.amount_residual, 150.0)
        self.assertEqual(
            (debit_b.state, debit_b.return_description),
            ("failed", "Agência/conta não pertence ao CPF/CNPJ informado"),
        )
        note = invoice_b.message_ids.filtered(lambda m: "not made by the bank" in (m.body or ""))
        self.assertIn("19 - Agência/conta não pertence ao CPF/CNPJ informado", note.body)

        # a return in 04 (the old version) is refused, naming the file and both versions
        old = self._return("04", [self._f(debit_a, "00", document=None)], nsa=2)
        with self.assertRaisesRegex(
            UserError,
            "The file RET04.ret was not imported.*declares CNAB 150 layout version 04, "
            "agreement Itaú 109 uses version 05",
        ):
            self._import(old, "RET04.ret")

    @freeze_time("2026-03-02")
    def test_version_08_cycle(self):
        self._set_version("08")
        # a 20-character account fits 08 (14 in 04 and 05)
        mandate = self._mandate(self.customer, "CLI-0001", "1234567890123456789X")
        self._mandate(self.customer_b, "CLI-0002", "77777")
        invoice_a = self._bill_contract(payment_mode="direct_debit")
        invoice_b = self._bill_contract(partner=self.customer_b, payment_mode="direct_debit")
        _remittance, lines = self._remittance_lines()
        header, e_a, _e_b, trailer = lines
        self.assertEqual(_pos(header, 80, 81), "08")
        # E: 31-50 account (20), 51-58 due date, 59-73 amount, 74-75 currency
        self.assertEqual(_pos(e_a, 31, 50), "1234567890123456789X")
        self.assertEqual(_pos(e_a, 51, 58), "20260310")
        self.assertEqual(_pos(e_a, 59, 73), "000000000015000")
        self.assertEqual(_pos(e_a, 74, 75), "03")
        # 76-128 company use (53), 130-145 the CPF, 146 operation 3 (other),
        # 147 overdraft 2 (no), 148 partial / after-due debit 2 (no), 150 movement 0
        debit_a, debit_b = invoice_a.rbm_debit_ids, invoice_b.rbm_debit_ids
        self.assertEqual(_pos(e_a, 76, 129), f"RBMD{debit_a.id}".ljust(54))
        self.assertEqual((_pos(e_a, 130, 130), _pos(e_a, 131, 145)), ("2", CPF_15))
        self.assertEqual(_pos(e_a, 146, 150), "322 0")
        self.assertEqual(_pos(trailer, 8, 24), "0" * 12 + "30000")

        # return in 08: A debited partially (DP, 100.00 of 150.00); B refused (PB)
        content = self._return(
            "08",
            [
                self._f(debit_a, "DP", amount="100.00"),
                self._f(debit_b, "PB", document="011222333000181"),
            ],
        )
        return_file = self._import(content, "RET08.ret")
        # the payment is what the bank debited: 150.00 - 100.00 = 50.00 stays open
        self.assertEqual(debit_a.payment_id.amount, 100.0)
        self.assertEqual(invoice_a.amount_residual, 50.0)
        self.assertEqual(debit_a.return_description, "Débito efetuado parcialmente")
        self.assertEqual(
            (debit_b.state, debit_b.return_code, debit_b.return_description),
            ("failed", "PB", "Débito não realizado: cliente com portabilidade"),
        )
        self.assertEqual(
            return_file.occurrence_ids.mapped("code"), ["DP", "PB"], "codes kept as the bank sent"
        )

        # B in 08: the opt-out names the 20-character account at 31-50
        optout = self._return(
            "08",
            [
                (
                    "B",
                    {
                        "customer_id": "CLI-0001",
                        "branch": "0810",
                        "account_id": "1234567890123456789X",
                        "option_date": date(2026, 3, 5),
                        "movement": "1",
                    },
                )
            ],
            nsa=2,
        )
        self.assertEqual(_pos(optout.decode().split("\r\n")[1], 31, 50), "1234567890123456789X")
        self._import(optout, "OPTOUT08.ret")
        self.assertEqual((mandate.state, mandate.cancel_date), ("cancelled", date(2026, 3, 5)))

        # a 05 return is refused on an 08 agreement
        with self.assertRaisesRegex(UserError, "RET05.ret.*version 05.*uses version 08"):
            self._import(self._return("05", [self._f(debit_b, "00")], nsa=3), "RET05.ret")

    def test_version_04_agreement_refuses_a_05_return(self):
        """The situation of the issue, reversed: an 04 agreement gets a 05 file."""
        content = self._return("05", [], nsa=1)
        before = self.env["rbm.debit.file"].search_count([])
        with self.assertRaisesRegex(
            UserError, "RETBANRISUL.ret.*declares CNAB 150 layout version 05.*uses version 04"
        ):
            self._import(content, "RETBANRISUL.ret")
        self.assertEqual(self.env["rbm.debit.file"].search_count([]), before)

    @freeze_time("2026-03-02")
    def test_payer_document_required_from_05(self):
        self._set_version("05")
        self.customer.vat = False
        self._mandate(self.customer, "CLI-0001", "999999")
        invoice = self._bill_contract(payment_mode="direct_debit")
        with self.assertRaisesRegex(
            UserError, f"{invoice.name}: the Tax ID .* required from layout 05 on: it is empty"
        ):
            self.account.action_generate_debit_remittance()

    @freeze_time("2026-03-02")
    def test_one_customer_without_a_document_does_not_block_the_others(self):
        self._set_version("05")
        self._mandate(self.customer, "CLI-0001", "999999")
        self._mandate(self.customer_b, "CLI-0002", "888888")
        without = self._bill_contract(payment_mode="direct_debit")
        # the other customer has an alphanumeric CNPJ (IN RFB 2.229/2024)
        self.customer_b.vat = "12abc34501de35"
        with_letters = self._bill_contract(partner=self.customer_b, payment_mode="direct_debit")
        self.customer.vat = False
        remittance, lines = self._remittance_lines()
        self.assertEqual(remittance.debit_ids.move_id, with_letters)
        # record E: 130 type 1 (CNPJ), 131-145 the inscription, letters kept
        (e,) = [line for line in lines if line[:1] == "E"]
        self.assertEqual((_pos(e, 130, 130), _pos(e, 131, 145)), ("1", "012ABC34501DE35"))
        self.assertIn(without.name, remittance.message_ids[:1].body)
        self.assertIn("it is empty", remittance.message_ids[:1].body)

    @freeze_time("2026-03-02")
    def test_account_zero_filled_when_the_bank_asks(self):
        self._set_version("05", fill="zeros")
        self._mandate(self.customer, "CLI-0001", "999999")
        self._bill_contract(payment_mode="direct_debit")
        _remittance, lines = self._remittance_lines()
        # 31-44: 14 positions, 8 zeros then the 6 of the account
        self.assertEqual(_pos(lines[1], 31, 44), "00000000999999")

    def test_version_limits_on_the_agreement(self):
        self._mandate(self.customer, "CLI-0001", "999999")
        with self._refused("Account of mandate CLI-0002: 2 to 14"):
            self._mandate(self.customer_b, "CLI-0002", "1234567890123456789X")
        self._set_version("08")
        long = self._mandate(self.customer_b, "CLI-0002", "1234567890123456789X")
        # back to 05 while a mandate has a 20-character account: refused
        with self._refused("Account of mandate CLI-0002: 2 to 14"):
            self._set_version("05")
        long.action_cancel()
        self._set_version("05")
        # letter codes can be re-presented only in 08
        self.account.debit_retry_count = 1
        with self._refused("FP is not a two-digit"):
            self.account.debit_retry_codes = "01,FP"
        self._set_version("08")
        self.account.debit_retry_codes = "01,FP"
        with self._refused("DP is not a refusal"):
            self.account.debit_retry_codes = "DP"
