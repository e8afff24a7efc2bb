import re

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common_card import RbmCardCase


@tagged("post_install", "-at_install")
class TestCardPortal(RbmCardCase, HttpCase):
    """Two customers, each with a saved card and a subscription: each one can
    pick only their own card, for their own subscription."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "João Silva", "email": "joao@example.com"}
        )
        cls.users = {}
        for partner, login in ((cls.customer, "maria"), (cls.other_customer, "joao")):
            cls.users[login] = (
                cls.env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "login": login,
                        "password": f"{login}-password",
                        "partner_id": partner.id,
                        "company_id": cls.env.company.id,
                        "company_ids": [Command.set(cls.env.company.ids)],
                        "groups_id": [Command.set([cls.env.ref("base.group_portal").id])],
                    }
                )
            )
        cls.old_token = cls._make_token(cls.customer, "done", "1111")
        cls.new_token = cls._make_token(cls.customer, "done", "2222")
        cls.other_token = cls._make_token(cls.other_customer, "done", "9999")
        cls.contract = cls._make_card_contract(cls.old_token)
        cls.other_contract = cls._make_card_contract(cls.other_token, partner=cls.other_customer)

    def _page(self, contract):
        response = self.url_open(f"/my/subscriptions/{contract.id}")
        self.assertEqual(response.status_code, 200)
        return response.text

    def _csrf(self, page):
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def _choose(self, contract, token, csrf):
        return self.url_open(
            f"/my/subscriptions/{contract.id}/card",
            data={"token_id": str(token.id), "csrf_token": csrf},
            allow_redirects=False,
        )

    def test_customer_picks_one_of_their_cards(self):
        self.authenticate("maria", "maria-password")
        page = self._page(self.contract)
        self.assertIn(f'action="/my/subscriptions/{self.contract.id}/card"', page)
        self.assertIn(f'value="{self.new_token.id}"', page)
        self.assertIn(f'value="{self.old_token.id}"', page)
        # the other customer's card is not offered
        self.assertNotIn(f'value="{self.other_token.id}"', page)
        response = self._choose(self.contract, self.new_token, self._csrf(page))
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers["Location"].endswith("?card_saved=1"))
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.payment_token_id, self.new_token)
        self.assertEqual(self.contract.payment_mode, "card")
        self.assertIn("2222", self.contract.message_ids[0].body)
        page = self.url_open(response.headers["Location"]).text
        self.assertIn("This card now pays your subscription.", page)
        self.assertIn("charged on <strong>2222</strong>", page)
        self.assertNotIn('data-token="payment.token', page)

    def test_another_customers_card_is_refused(self):
        self.authenticate("maria", "maria-password")
        csrf = self._csrf(self._page(self.contract))
        response = self._choose(self.contract, self.other_token, csrf)
        self.assertEqual(response.status_code, 303)
        self.assertIn("card_error=1", response.headers["Location"])
        response = self._choose(self.contract, self.env["payment.token"], csrf)
        self.assertIn("card_error=1", response.headers["Location"])
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.payment_token_id, self.old_token)

    def test_another_customers_subscription_is_refused(self):
        self.authenticate("maria", "maria-password")
        csrf = self._csrf(self._page(self.contract))
        # her own card on his subscription, and his card on his subscription
        for token in (self.new_token, self.other_token):
            response = self._choose(self.other_contract, token, csrf)
            self.assertEqual(response.status_code, 303)
            self.assertTrue(response.headers["Location"].endswith("/my"))
        self.other_contract.invalidate_recordset()
        self.assertEqual(self.other_contract.payment_token_id, self.other_token)
        # his page shows nothing of hers
        self.authenticate("joao", "joao-password")
        page = self._page(self.other_contract)
        self.assertIn(f'value="{self.other_token.id}"', page)
        self.assertNotIn(f'value="{self.new_token.id}"', page)

    def test_form_requires_csrf_token(self):
        self.authenticate("maria", "maria-password")
        self._page(self.contract)
        with mute_logger("odoo.http"):
            response = self._choose(self.contract, self.new_token, "forged")
        self.assertEqual(response.status_code, 400)
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.payment_token_id, self.old_token)

    def test_anonymous_visitor_is_sent_to_login(self):
        response = self.url_open(
            f"/my/subscriptions/{self.contract.id}/card",
            data={"token_id": str(self.new_token.id)},
            allow_redirects=False,
        )
        self.assertNotEqual(response.status_code, 200)
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.payment_token_id, self.old_token)

    def test_customer_cannot_charge_or_fail_from_the_backend(self):
        """Buttons are methods anyone may call over RPC: they check the rights."""
        self.contract.payment_token_id = self.new_token
        self.new_token.demo_simulated_state = "pending"
        invoice = self.contract.env["rbm.billing.run"]._bill(
            self.contract, self.contract.next_invoice_date
        )["moves"]
        self._run_cron(invoice.invoice_date)
        attempt = invoice.rbm_card_attempt_ids
        self.assertEqual(attempt.state, "pending")
        with self.assertRaises(AccessError):
            invoice.with_user(self.users["maria"]).action_rbm_charge_card()
        with self.assertRaises(AccessError):
            attempt.with_user(self.users["maria"]).action_mark_failed()
        invoicing_user = self.env["res.users"].create(
            {
                "login": "billing-clerk",
                "name": "Billing Clerk",
                "company_id": self.env.company.id,
                "company_ids": [Command.set(self.env.company.ids)],
                "groups_id": [Command.set([self.env.ref("account.group_account_invoice").id])],
            }
        )
        with self.assertRaises(AccessError):
            attempt.with_user(invoicing_user).action_mark_failed()
        self.assertEqual(attempt.state, "pending")
        self.assertEqual(len(invoice.rbm_card_attempt_ids), 1)
