import re

from odoo.exceptions import ValidationError
from odoo.tests import Form, HttpCase, TransactionCase, tagged

RECEITA = "12.ABC.345/01DE-35"  # the Receita's example (IN RFB 2.229/2024)


@tagged("-standard", "rbm_l10n_br", "post_install", "-at_install")
class TestOdooVatCheck(TransactionCase):
    """Odoo's own Brazilian VAT check (base_vat, with l10n_br's CNPJ
    identification type) accepts the alphanumeric CNPJ with the product's
    rule and refuses a wrong one saying why. Run by ``run-tests`` in the
    database with ``l10n_br``."""

    def _customer(self, vat):
        form = Form(self.env["res.partner"])
        form.name = "Padaria Pão Quente Ltda"
        form.company_type = "company"
        form.country_id = self.env.ref("base.br")
        if "l10n_latam_identification_type_id" in self.env["res.partner"]._fields:
            form.l10n_latam_identification_type_id = self.env.ref("l10n_br.cnpj")
        form.vat = vat
        return form.save()

    def test_alphanumeric_cnpj_accepted_by_odoo_check(self):
        partner = self.env["res.partner"]
        # python-stdnum, which Odoo 18 ships, does not know the letters
        self.assertTrue(partner.check_vat_br("12ABC34501DE35"))
        self.assertTrue(partner.check_vat_br("16.727.230/0001-97"))
        self.assertTrue(partner.check_vat_br("390.533.447-05"))
        self.assertFalse(partner.check_vat_br("12ABC34501DE36"))
        self.assertEqual(self._customer("12abc34501de35").vat, RECEITA)
        self.assertEqual(self._customer("16727230000197").vat, "16.727.230/0001-97")

    def test_wrong_check_digits_refused_by_odoo_check_naming_the_partner(self):
        with self.assertRaises(ValidationError) as caught:
            self._customer("12.ABC.345/01DE-36")
        message = str(caught.exception)
        self.assertIn("Padaria Pão Quente Ltda", message)
        self.assertIn("12.ABC.345/01DE-36", message)
        self.assertIn("check digits are wrong", message)


@tagged("-standard", "rbm_l10n_br", "post_install", "-at_install")
class TestOdooVatCheckPortal(HttpCase):
    def test_portal_details_with_odoo_vat_check(self):
        user = self.env["res.users"].create(
            {
                "name": "Padaria Pão Quente",
                "login": "padaria-vat",
                "password": "padaria-vat",
                "email": "padaria@example.com",
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        self.authenticate("padaria-vat", "padaria-vat")
        form = {
            "name": "Padaria Pão Quente Ltda",
            "email": "padaria@example.com",
            "phone": "11 3333-4444",
            "street": "Rua Augusta, 500",
            "city": "São Paulo",
            "zipcode": "01305-000",
            "country_id": str(self.env.ref("base.br").id),
            "state_id": str(self.env.ref("base.state_br_sp").id),
            "company_name": "Padaria Pão Quente Ltda",
        }

        def post(vat):
            page = self.url_open("/my/account").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            return self.url_open("/my/account", data={**form, "vat": vat, "csrf_token": csrf})

        response = post("12.ABC.345/01DE-36")
        self.assertEqual(response.status_code, 200)
        self.assertIn("check digits are wrong", response.text)
        self.assertFalse(user.partner_id.vat)
        self.assertEqual(post("12abc34501de35").status_code, 200)
        self.assertEqual(user.partner_id.vat, RECEITA)
