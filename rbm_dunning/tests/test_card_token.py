from datetime import date

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common_card import RbmCardCase


@tagged("post_install", "-at_install")
class TestContractCardOwner(RbmCardCase):
    """The saved card of a contract is one its customer saved (or a contact of
    the customer): another customer's card is refused when it is set, not only
    when it would be charged."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.partner"].create({"name": "João Silva", "email": "j@example.com"})
        cls.token = cls._make_token(cls.customer, "done", "4242")
        cls.other_token = cls._make_token(cls.other, "done", "9999")

    def _contract_vals(self, token, partner=None):
        return {
            "partner_id": (partner or self.customer).id,
            "plan_id": self.plan.id,
            "date_start": date(2026, 3, 1),
            "payment_mode": "card",
            "payment_token_id": token.id,
        }

    def test_another_customers_card_refused_on_create(self):
        Contract = self.env["rbm.contract"]
        count = Contract.search_count([])
        with self.assertRaisesRegex(ValidationError, r"customer Maria José.*Saved Card"):
            with self.env.cr.savepoint():
                Contract.create(self._contract_vals(self.other_token))
        self.assertEqual(Contract.search_count([]), count)

    def test_another_customers_card_refused_on_write(self):
        contract = self._make_card_contract(self.token)
        with self.assertRaisesRegex(ValidationError, contract.name):
            with self.env.cr.savepoint():
                contract.write({"payment_token_id": self.other_token.id})
        contract.invalidate_recordset()
        self.assertEqual(contract.payment_token_id, self.token)

    def test_customer_change_keeps_the_card_the_customers(self):
        """Moving a contract paying by card to another customer needs their card."""
        contract = self._make_card_contract(self.token)
        with self.assertRaisesRegex(ValidationError, "Saved Card"):
            with self.env.cr.savepoint():
                contract.write({"partner_id": self.other.id})
        contract.invalidate_recordset()
        self.assertEqual(contract.partner_id, self.customer)
        contract.write({"partner_id": self.other.id, "payment_token_id": self.other_token.id})
        self.assertEqual(contract.payment_token_id, self.other_token)

    def test_card_saved_by_a_contact_of_the_customer_accepted(self):
        company = self.env["res.partner"].create({"name": "Padaria Alfa Ltda", "is_company": True})
        contact = self.env["res.partner"].create({"name": "Ana", "parent_id": company.id})
        contact_token = self._make_token(contact, "done", "1111")
        contract = self.env["rbm.contract"].create(self._contract_vals(contact_token, company))
        self.assertEqual(contract.payment_token_id, contact_token)
