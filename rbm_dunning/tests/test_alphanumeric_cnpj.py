"""Customers and companies with the alphanumeric CNPJ (IN RFB 2.229/2024,
issued since July 2026): entered in the back office and on the portal,
billed by boleto, sent in the remittance and paid by the bank's return.

Values worked out by hand (see tests/test_dunning_alphanumeric_cnpj.py for
the arithmetic): ``12.ABC.345/01DE-35`` is the Receita's example;
``AB.CDE.FGH/0001-95`` has check digits 9 and 5.
"""

import base64
import re

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged

from ..engine import cnab, pix
from .common import RbmDunningCase

RECEITA = "12.ABC.345/01DE-35"
COMPANY_ALNUM = "AB.CDE.FGH/0001-95"


@tagged("post_install", "-at_install")
class TestAlphanumericCnpj(RbmDunningCase):
    def _new_customer(self, vat, name="Padaria Pão Quente Ltda", country="base.br"):
        form = Form(self.env["res.partner"])
        form.name = name
        form.company_type = "company"
        form.country_id = self.env.ref(country)
        form.vat = vat
        form.street = "Rua Augusta, 500"
        form.city = "São Paulo"
        form.zip = "01305-000"
        if country == "base.br":
            form.state_id = self.env.ref("base.state_br_sp")
        return form.save()

    # ------------------------------------------------------------------
    # Customers
    # ------------------------------------------------------------------

    def test_customer_entered_as_typed_and_stored_with_the_mask(self):
        typed_ways = (
            "12.ABC.345/01DE-35",
            "12ABC34501DE35",
            "12.abc.345/01de-35",
            " 12abc345 01de35",
        )
        for typed in typed_ways:
            with self.subTest(typed=typed):
                customer = self._new_customer(typed)
                self.assertEqual(customer.vat, RECEITA)
        # numeric CNPJ and CPF: same rule, same mask, as before
        self.assertEqual(self._new_customer("16727230000197").vat, "16.727.230/0001-97")
        self.assertEqual(self._new_customer("39053344705").vat, "390.533.447-05")
        # not Brazilian: stored as typed, not checked here
        self.assertEqual(
            self._new_customer("DE123456789", name="GmbH", country="base.de").vat, "DE123456789"
        )

    def test_wrong_cnpj_refused_naming_the_partner_and_the_field(self):
        cases = [
            ("12.ABC.345/01DE-36", "check digits are wrong"),
            ("12.ABC.345/01DE-3A", "followed by 2 numeric check digits"),
            ("12.ABC.345/01", "11 digits and a CNPJ 14 characters"),
            ("00.000.000/0000-00", "repeated"),
        ]
        customer = self._new_customer(RECEITA)
        for vat, reason in cases:
            with self.subTest(vat=vat):
                with self.assertRaises(ValidationError) as caught:
                    customer.vat = vat
                message = str(caught.exception)
                self.assertIn("Tax ID (CPF/CNPJ) of Padaria Pão Quente Ltda", message)
                self.assertIn(vat, message)
                self.assertIn(reason, message)
        self.assertEqual(customer.vat, RECEITA)
        # Odoo's escape hatch for data pushed from outside keeps working
        customer.with_context(no_vat_validation=True).vat = "12.ABC.345/01DE-36"
        self.assertEqual(customer.vat, "12.ABC.345/01DE-36")

    def test_country_set_after_the_document_is_checked_too(self):
        partner = self.env["res.partner"].create({"name": "Sem País", "vat": "12.ABC.345/01DE-36"})
        with self.assertRaises(ValidationError):
            partner.country_id = self.env.ref("base.br")

    # ------------------------------------------------------------------
    # Billed by boleto: PDF, remittance, return
    # ------------------------------------------------------------------

    def test_billed_by_boleto_sent_and_paid_with_letters_on_both_sides(self):
        self.env.company.vat = COMPANY_ALNUM
        self.assertEqual(self.env.company.vat, COMPANY_ALNUM)
        customer = self._new_customer("12abc34501de35")
        invoice = self._bill_contract(partner=customer)
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.amount, 150.0)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("rbm_dunning.action_report_boleto", boleto.ids)[0]
            .decode()
        )
        self.assertIn(RECEITA, html)  # the payer
        self.assertIn(COMPANY_ALNUM, html)  # the beneficiary

        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual(remittance.layout, "cnab240")  # shown on the file's form
        content = base64.b64decode(remittance.datas).decode("latin-1")
        lines = content.split("\r\n")
        # FEBRABAN 240 file header: 18 type 2 (CNPJ), 19-32 the 14 characters
        self.assertEqual((lines[0][17], lines[0][18:32]), ("2", "ABCDEFGH000195"))
        # segment Q: 18 type, 19-33 payer inscription, right-aligned, zero on the left
        q = next(line for line in lines if line[7:8] == "3" and line[13:14] == "Q")
        self.assertEqual((q[17], q[18:33]), ("2", "012ABC34501DE35"))
        self.assertFalse(remittance.left_out_note)

        cnab_file, _preview = self._import(
            self._return_240(
                [{"occurrence": "06", "boleto": boleto, "amount_paid": "150.00"}],
            ).replace(b"16727230000197", b"ABCDEFGH000195")
        )
        self.assertEqual(cnab_file.occurrence_ids.boleto_id, boleto)
        self.assertEqual(boleto.state, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_cnab400_remittance_with_letters(self):
        account = self._make_collection_account(
            name="Bradesco 09",
            bank_code="237",
            branch="1172",
            account_number="0403005",
            account_digit="1",
            portfolio="09",
            agreement="4540691",
            layout="cnab400",
            sequence=0,
        )
        self.env["rbm.collection.account"].search([("id", "!=", account.id)]).sequence = 10
        invoice = self._bill_contract(partner=self._new_customer(RECEITA))
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        remittance = self.env["rbm.cnab.file"]._generate_remittance(account)
        self.assertEqual(remittance.layout, "cnab400")
        content = base64.b64decode(remittance.datas).decode("latin-1")
        detail = content.split("\r\n")[1]
        # Bradesco 400 detail: 219-220 payer inscription type (02 CNPJ), 221-234 number
        self.assertEqual((detail[218:220], detail[220:234]), ("02", "12ABC34501DE35"))

    def test_one_unwritable_title_does_not_block_the_remittance(self):
        good = self._bill_contract(partner=self._new_customer(RECEITA)).rbm_boleto_ids
        nameless = self._new_customer("16727230000197", name="Oficina Sem Documento")
        bad = self._bill_contract(partner=nameless).rbm_boleto_ids
        nameless.vat = False  # removed after the invoice was issued
        remittance = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual(remittance.occurrence_ids.boleto_id, good)
        self.assertEqual(good.state, "in_remessa")
        # left out, with its reason on the boleto and the file, still pending
        self.assertEqual((bad.state, bad.pending_instruction), ("draft", "entry"))
        self.assertIn("Oficina Sem Documento", bad.remittance_problem)
        self.assertIn("it is empty", bad.remittance_problem)
        self.assertIn(bad.display_name, remittance.left_out_note)
        self.assertIn("left out", remittance.message_ids[:1].body)
        parsed = cnab.parse_cnab240(base64.b64decode(remittance.datas))
        self.assertEqual(len(parsed.of_kind("P")), 1)

        # corrected, it goes in the next remittance and the reason is cleared
        nameless.vat = "39053344705"
        following = self.env["rbm.cnab.file"]._generate_remittance(self.account)
        self.assertEqual(following.occurrence_ids.boleto_id, bad)
        self.assertEqual(following.nsa, remittance.nsa + 1)
        self.assertFalse(bad.remittance_problem)
        self.assertFalse(following.left_out_note)

    def test_nothing_written_when_no_title_can_be(self):
        customer = self._new_customer(RECEITA)
        boleto = self._bill_contract(partner=customer).rbm_boleto_ids
        customer.vat = False
        next_nsa = self.account.next_nsa
        with self.assertRaises(UserError) as caught:
            self.account.action_generate_remittance()
        self.assertIn(boleto.display_name, str(caught.exception))
        self.assertEqual(self.account.next_nsa, next_nsa)

    # ------------------------------------------------------------------
    # Pix
    # ------------------------------------------------------------------

    def test_pix_key_with_letters(self):
        self.account.pix_key = "12ABC34501DE35"
        payload = self.account._get_pix_payload(150.0, "RBM123")
        self.assertEqual(pix.parse_payload(payload).key, "12ABC34501DE35")
        with self.assertRaises(ValidationError):
            self.account.pix_key = "12ABC34501DE36"


@tagged("post_install", "-at_install")
class TestAlphanumericCnpjPortal(HttpCase):
    def _csrf(self):
        page = self.url_open("/my/account").text
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def test_customer_enters_the_cnpj_on_the_portal(self):
        user = self.env["res.users"].create(
            {
                "name": "Padaria Pão Quente",
                "login": "padaria-alnum",
                "password": "padaria-alnum",
                "email": "padaria@example.com",
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        brazil = self.env.ref("base.br")
        self.authenticate("padaria-alnum", "padaria-alnum")
        form = {
            "name": "Padaria Pão Quente Ltda",
            "email": "padaria@example.com",
            "phone": "11 3333-4444",
            "street": "Rua Augusta, 500",
            "city": "São Paulo",
            "zipcode": "01305-000",
            "country_id": str(brazil.id),
            "state_id": str(self.env.ref("base.state_br_sp").id),
            "company_name": "Padaria Pão Quente Ltda",
        }
        # a wrong check digit: shown on the form, nothing stored
        response = self.url_open(
            "/my/account",
            data={**form, "vat": "12.ABC.345/01DE-36", "csrf_token": self._csrf()},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("its check digits are wrong", response.text)
        self.assertFalse(user.partner_id.vat)
        # typed in lower case, without the mask: stored with it
        response = self.url_open(
            "/my/account",
            data={**form, "vat": "12abc34501de35", "csrf_token": self._csrf()},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(user.partner_id.vat, RECEITA)
