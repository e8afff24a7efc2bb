from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import CUSTOMER_CNPJ, SefinMixin


@tagged("post_install", "-at_install")
class TestNfseTour(SefinMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sefin()
        cls.configure_company(cls.env, cls.env.company)
        # no DPS Id of the other test classes (the Sefin keeps what it issued)
        counter = cls.env["rbm.nfse.counter"]
        counter._reserve(cls.env.company, "1")
        counter.search([("company_id", "=", cls.env.company.id), ("series", "=", "1")]).write(
            {"last_number": 800000}
        )

    def test_invoice_shows_its_nfse(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Cliente Tour Ltda",
                "is_company": True,
                "vat": CUSTOMER_CNPJ,
                "street": "Rua Augusta, 500",
                "street2": "Consolação",
                "zip": "01304000",
                "nfse_city_ibge": "3550308",
            }
        )
        product = self.env["product.product"].create(
            {"name": "Assinatura Tour", "type": "service", "taxes_id": [Command.clear()]}
        )
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 450})
                ],
            }
        )
        move.action_post()
        move.rbm_nfse_id._issue()
        self.assertEqual(move.rbm_nfse_state, "issued", move.rbm_nfse_id.error_message)
        self.start_tour(
            f"/odoo/action-account.action_move_out_invoice_type/{move.id}",
            "rbm_nfse_invoice_tour",
            login="admin",
        )
