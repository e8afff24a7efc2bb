from datetime import date
from urllib.parse import urlparse

from lxml import html

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestPortal(HttpCase):
    """The customer portal of subscription contracts, through real HTTP requests,
    and the record rules that keep each customer to their own contracts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start = date(2024, 1, 1)
        portal_group = cls.env.ref("base.group_portal")
        cls.customers = {}
        for key in ("a", "b"):
            company = cls.env["res.partner"].create(
                {
                    "name": f"RBM Portal Customer {key.upper()} Ltda",
                    "is_company": True,
                    "email": f"customer_{key}@example.com",
                }
            )
            contact = cls.env["res.partner"].create(
                {
                    "name": f"Contact {key.upper()}",
                    "parent_id": company.id,
                    "email": f"contact_{key}@example.com",
                }
            )
            login = f"rbm_portal_{key}"
            user = (
                cls.env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": contact.name,
                        "login": login,
                        "password": login,
                        "partner_id": contact.id,
                        "groups_id": [Command.set([portal_group.id])],
                    }
                )
            )
            product = cls.env["product.product"].create(
                {
                    "name": f"RBM Portal Service {key.upper()}",
                    "type": "service",
                    "list_price": 100.0,
                    "taxes_id": [Command.clear()],
                }
            )
            plan = cls.env["rbm.plan"].create(
                {
                    "name": f"RBM Portal Plan {key.upper()}",
                    "interval": 1,
                    "interval_unit": "month",
                    "billing_mode": "advance",
                    "line_ids": [
                        Command.create({"product_id": product.id, "quantity": 1, "price_unit": 100})
                    ],
                }
            )
            contract = cls.env["rbm.contract"].create(
                {"partner_id": company.id, "plan_id": plan.id, "date_start": cls.start}
            )
            contract.action_activate()
            result = contract.env["rbm.billing.run"]._bill(contract, cls.start)
            cls.customers[key] = {
                "company": company,
                "contact": contact,
                "user": user,
                "login": login,
                "product": product,
                "plan": plan,
                "contract": contract,
                "invoice": result["moves"],
            }
        cls.user_a = cls.customers["a"]["user"]
        cls.contract_a = cls.customers["a"]["contract"]
        cls.contract_b = cls.customers["b"]["contract"]
        cls.invoice_a = cls.customers["a"]["invoice"]
        # a draft contract of customer A: never listed, never counted
        cls.draft_a = cls.env["rbm.contract"].create(
            {
                "partner_id": cls.customers["a"]["company"].id,
                "plan_id": cls.customers["a"]["plan"].id,
                "date_start": cls.start,
            }
        )

    def _login_a(self):
        self.authenticate("rbm_portal_a", "rbm_portal_a")

    def _get(self, url, **kwargs):
        response = self.url_open(url, **kwargs)
        self.assertEqual(response.status_code, 200, f"GET {url}")
        return response

    # ------------------------------------------------------------
    # SETUP SANITY
    # ------------------------------------------------------------

    def test_setup_each_contract_has_a_posted_invoice(self):
        for key in ("a", "b"):
            customer = self.customers[key]
            self.assertEqual(customer["contract"].state, "active")
            self.assertEqual(len(customer["invoice"]), 1)
            self.assertEqual(customer["invoice"].state, "posted")
            self.assertEqual(customer["invoice"].rbm_contract_id, customer["contract"])
        self.assertEqual(self.draft_a.state, "draft")

    # ------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------

    def test_list_shows_own_contracts_only(self):
        self._login_a()
        body = self._get("/my/subscriptions").text
        self.assertIn(self.contract_a.name, body)
        self.assertIn(self.customers["a"]["plan"].name, body)
        self.assertIn(f"/my/subscriptions/{self.contract_a.id}", body)
        self.assertNotIn(self.contract_b.name, body)
        self.assertNotIn(self.customers["b"]["plan"].name, body)

    def test_list_hides_draft_contracts(self):
        self._login_a()
        body = self._get("/my/subscriptions").text
        self.assertNotIn(self.draft_a.name, body)
        self.assertNotIn(f"/my/subscriptions/{self.draft_a.id}", body)

    def test_detail_shows_plan_lines_and_invoices(self):
        self._login_a()
        response = self._get(f"/my/subscriptions/{self.contract_a.id}")
        self.assertEqual(urlparse(response.url).path, f"/my/subscriptions/{self.contract_a.id}")
        body = response.text
        self.assertIn(self.contract_a.name, body)
        self.assertIn(self.customers["a"]["plan"].name, body)
        self.assertIn(self.contract_a.line_ids.name, body)
        self.assertTrue(self.invoice_a.name and self.invoice_a.name != "/")
        self.assertIn(self.invoice_a.name, body)
        self.assertIn(f"/my/invoices/{self.invoice_a.id}?access_token=", body)
        self.assertIn("report_type=pdf", body)
        self.assertNotIn(self.contract_b.name, body)

    def test_prices_include_the_running_campaign(self):
        """A contract in a campaign shows the customer what they pay while it
        lasts: 10 % off 100.00 is 90.00, on the list and the detail page."""
        campaign = self.env["rbm.campaign"].create(
            {
                "name": "Boas-vindas",
                "code": "BEMVINDO10",
                "discount_type": "percent",
                "discount_value": 10.0,
                "period_count": 3,
                "plan_ids": [Command.set(self.contract_a.plan_id.ids)],
            }
        )
        self.contract_a.write({"campaign_id": campaign.id, "campaign_periods_left": 2})
        self.assertEqual(self.contract_a._get_campaign_price(), 90.0)
        self._login_a()
        for url in ("/my/subscriptions", f"/my/subscriptions/{self.contract_a.id}"):
            body = self._get(url).text
            self.assertIn("o_rbm_campaign_price", body, url)
            self.assertIn("90.00", body, url)
        detail = self._get(f"/my/subscriptions/{self.contract_a.id}").text
        self.assertIn("Boas-vindas", detail)
        # once the campaign's periods are used, the full price again
        self.contract_a.campaign_periods_left = 0
        self.assertNotIn("o_rbm_campaign_price", self._get("/my/subscriptions").text)

    def test_detail_breadcrumbs(self):
        """The breadcrumbs end on the contract: the invoice rows must not leak an
        ``invoice`` variable into the breadcrumbs of the account module."""
        self._login_a()
        body = self._get(f"/my/subscriptions/{self.contract_a.id}").text
        crumbs = html.fromstring(body).xpath(
            "//ol[contains(concat(' ', normalize-space(@class), ' '), ' o_portal_submenu ')]"
            "/li[contains(@class, 'breadcrumb-item')]"
        )
        texts = [" ".join(li.text_content().split()) for li in crumbs]
        self.assertEqual(texts[-2:], ["Subscriptions", self.contract_a.name])
        self.assertNotIn(self.invoice_a.name, " ".join(texts))

    def test_detail_invoice_link_opens(self):
        self._login_a()
        response = self._get(f"/my/invoices/{self.invoice_a.id}")
        self.assertIn(self.invoice_a.name, response.text)

    def test_detail_of_other_customer_redirects(self):
        self._login_a()
        url = f"/my/subscriptions/{self.contract_b.id}"
        response = self.url_open(url, allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303))
        self.assertEqual(urlparse(response.headers["Location"]).path, "/my")
        response = self._get(url)
        self.assertEqual(urlparse(response.url).path, "/my")
        self.assertNotIn(self.contract_b.name, response.text)

    def test_detail_of_missing_contract_redirects(self):
        self._login_a()
        missing_id = self.env["rbm.contract"].search([], order="id desc", limit=1).id + 1000
        response = self._get(f"/my/subscriptions/{missing_id}")
        self.assertEqual(urlparse(response.url).path, "/my")

    def test_home_shows_subscriptions_entry(self):
        self._login_a()
        body = self._get("/my").text
        self.assertIn('href="/my/subscriptions"', body)
        self.assertIn("Your Subscriptions", body)
        self.assertIn('data-placeholder_count="rbm_contract_count"', body)

    def test_home_counter(self):
        self._login_a()
        result = self.make_jsonrpc_request("/my/counters", {"counters": ["rbm_contract_count"]})
        self.assertEqual(result.get("rbm_contract_count"), 1)

    def test_access_token_anonymous(self):
        token = self.contract_a._portal_ensure_token()
        url = f"/my/subscriptions/{self.contract_a.id}?access_token={token}"
        response = self._get(url)
        self.assertEqual(urlparse(response.url).path, f"/my/subscriptions/{self.contract_a.id}")
        self.assertIn(self.contract_a.name, response.text)
        self.assertIn(self.invoice_a.name, response.text)

    def test_wrong_access_token_redirects(self):
        self.contract_a._portal_ensure_token()
        url = f"/my/subscriptions/{self.contract_a.id}?access_token=not-the-token"
        response = self.url_open(url, allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303))
        self.assertEqual(urlparse(response.headers["Location"]).path, "/my")
        response = self.url_open(url)
        self.assertNotEqual(urlparse(response.url).path, f"/my/subscriptions/{self.contract_a.id}")
        self.assertNotIn(self.contract_a.name, response.text)

    def test_anonymous_without_token_redirects(self):
        response = self.url_open(f"/my/subscriptions/{self.contract_a.id}")
        self.assertNotIn(self.contract_a.name, response.text)
        response = self.url_open("/my/subscriptions")
        self.assertEqual(urlparse(response.url).path, "/web/login")

    # ------------------------------------------------------------
    # RECORD RULES
    # ------------------------------------------------------------

    def test_record_rules_search(self):
        contracts = self.env["rbm.contract"].with_user(self.user_a).search([])
        # drafts are internal until activated
        self.assertEqual(contracts, self.contract_a)
        lines = self.env["rbm.contract.line"].with_user(self.user_a).search([])
        self.assertEqual(lines, self.contract_a.line_ids)
        with self.assertRaises(AccessError):
            self.draft_a.with_user(self.user_a).check_access("read")
        plans = self.env["rbm.plan"].with_user(self.user_a).search([])
        self.assertEqual(plans, self.customers["a"]["plan"])

    def test_record_rules_check_access(self):
        self.contract_a.with_user(self.user_a).check_access("read")
        with self.assertRaises(AccessError):
            self.contract_b.with_user(self.user_a).check_access("read")
        with self.assertRaises(AccessError):
            self.contract_b.line_ids.with_user(self.user_a).check_access("read")
        with self.assertRaises(AccessError):
            self.contract_a.with_user(self.user_a).check_access("write")
