import base64
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import RbmDunningCase


@tagged("post_install", "-at_install", "rbm_tours")
class TestCollectionAgentTour(RbmDunningCase, HttpCase):
    """The collection agent's journey clicked in the browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the agent creates the collection account in the browser
        cls.account.unlink()
        account = cls.env["account.account"].create
        cls.interest_account = account(
            {"code": "TOUR01", "name": "Juros Tour", "account_type": "income_other"}
        )
        cls.fee_account = account(
            {"code": "TOUR02", "name": "Tarifas Tour", "account_type": "expense"}
        )
        cls.contract = cls.env["rbm.contract"].create(
            {
                "partner_id": cls.customer.id,
                "plan_id": cls.plan.id,
                "payment_mode": "boleto",
            }
        )

    def test_boleto_remittance_return_paid(self):
        self.start_tour("/odoo", "rbm_collection_agent_tour", login=self.env.user.login)
        account = self.env["rbm.collection.account"].search([("name", "=", "Itaú Tour 109")])
        self.assertEqual(
            (account.bank_code, account.branch, account.account_number, account.pix_key),
            ("341", "0810", "53678", "16727230000197"),
        )
        invoice = self.contract.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.amount_total, 150.0)
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        remittance = self.env["rbm.cnab.file"].search(
            [("collection_account_id", "=", account.id), ("direction", "=", "remittance")]
        )
        self.assertEqual(len(remittance), 1)
        self.assertIn(
            boleto.our_number_sequence,
            remittance.occurrence_ids.boleto_id.mapped("our_number_sequence"),
        )

        # the bank pays the boleto and sends its return file
        today = fields.Date.context_today(self.env.user)
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": boleto,
                    "amount_paid": "150.00",
                    "occurrence_date": today,
                    "credit_date": today,
                }
            ],
            generated_on=today,
        )
        self.env["ir.attachment"].create(
            {"name": "RETORNO-TOUR.RET", "datas": base64.b64encode(content)}
        )
        self.start_tour("/odoo", "rbm_collection_return_tour", login=self.env.user.login)
        self.assertEqual(invoice.payment_state in ("paid", "in_payment"), True)
        self.assertEqual(boleto.state, "paid")
        returned = self.env["rbm.cnab.file"].search(
            [("collection_account_id", "=", account.id), ("direction", "=", "return")]
        )
        self.assertEqual(returned.filename, "RETORNO-TOUR.RET")

    def test_collection_log_on_overdue_invoice(self):
        self.env["rbm.collection.policy"].create(
            {
                "name": "Régua Tour",
                "is_default": True,
                "date_start": "2026-01-01",
                "step_ids": [
                    Command.create({"day_offset": 3, "action": "email", "name": "Lembrete D+3"})
                ],
            }
        )
        late = self.env["res.partner"].create(
            {"name": "João Atrasado", "email": "joao@example.com"}
        )
        invoice = self._bill_contract(partner=late)
        due = invoice.invoice_date_due
        with freeze_time(due + timedelta(days=3)):
            self.env["rbm.collection.log"]._run(due + timedelta(days=3))
        self.assertEqual(invoice.rbm_collection_log_ids.step_id.name, "Lembrete D+3")
        self.start_tour("/odoo", "rbm_collection_log_tour", login=self.env.user.login)
