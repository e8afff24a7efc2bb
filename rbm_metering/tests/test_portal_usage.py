import csv
import io
from datetime import date, datetime, time, timedelta
from urllib.parse import urlparse

from odoo import Command
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestPortalUsage(HttpCase):
    """The usage statement on the portal, through real HTTP requests: only
    the contract's customer sees it (page, CSV and PDF)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        today = date.today()
        # last month: a closed-looking period, whatever today is
        cls.period_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        metric = cls.env["rbm.metric"].create(
            {"code": "portal_storage_gb", "name": "Portal Storage", "unit_label": "GB"}
        )
        product = cls.env["product.product"].create(
            {"name": "Portal cloud", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = cls.env["rbm.plan"].create(
            {
                "name": "Portal metered plan",
                "billing_mode": "arrears",
                "alignment": "fixed_day",
                "billing_day": 1,
                "line_ids": [
                    Command.create({"product_id": product.id, "quantity": 1, "price_unit": 50}),
                    Command.create(
                        {
                            "product_id": product.id,
                            "name": "Portal Storage",
                            "metric_id": metric.id,
                            "price_model": "allowance",
                            "allowance": 100.0,
                            "overage_price": 0.5,
                        }
                    ),
                ],
            }
        )
        portal = cls.env.ref("base.group_portal")
        cls.contracts = {}
        for key in ("a", "b"):
            partner = cls.env["res.partner"].create(
                {"name": f"Usage Customer {key.upper()}", "email": f"usage_{key}@example.com"}
            )
            cls.env["res.users"].with_context(no_reset_password=True).create(
                {
                    "name": partner.name,
                    "login": f"rbm_usage_{key}",
                    "password": f"rbm_usage_{key}",
                    "partner_id": partner.id,
                    "groups_id": [Command.set([portal.id])],
                }
            )
            contract = cls.env["rbm.contract"].create(
                {"partner_id": partner.id, "plan_id": plan.id, "date_start": cls.period_start}
            )
            contract.action_activate()
            cls.contracts[key] = contract
        cls.contract_a, cls.contract_b = cls.contracts["a"], cls.contracts["b"]
        at = datetime.combine(cls.period_start + timedelta(days=2), time(12))
        results = cls.env["rbm.usage"]._ingest(
            cls.contract_a.company_id,
            [
                {
                    "idempotency_key": f"portal-{i}",
                    "metric": "portal_storage_gb",
                    "contract_id": cls.contract_a.id,
                    "quantity": quantity,
                    "timestamp": (at + timedelta(days=i * 7)).isoformat(),
                }
                for i, quantity in enumerate([60, "70.5"])
            ],
        )
        assert {r["status"] for r in results} == {"accepted"}, results
        cls.query = f"?period={cls.period_start.isoformat()}"

    def _login(self, key):
        self.authenticate(f"rbm_usage_{key}", f"rbm_usage_{key}")

    def _url(self, contract, suffix=""):
        return f"/my/subscriptions/{contract.id}/usage{suffix}{self.query}"

    def _assert_redirects_home(self, url):
        response = self.url_open(url, allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303), url)
        self.assertEqual(urlparse(response.headers["Location"]).path, "/my")

    def test_customer_sees_the_statement(self):
        self._login("a")
        response = self.url_open(self._url(self.contract_a))
        self.assertEqual(response.status_code, 200)
        body = response.text
        self.assertIn("Usage statement", body)
        self.assertIn(self.contract_a.name, body)
        self.assertIn("130.5", body)  # 60 + 70.5 GB
        self.assertIn("30.5", body)  # above the 100 GB allowance
        self.assertIn("15.25", body)  # 30.5 x 0.50
        self.assertIn("130 %", body)
        self.assertIn("<svg", body)
        self.assertIn(f"/my/subscriptions/{self.contract_a.id}/usage.csv", body)
        self.assertIn(f"/my/subscriptions/{self.contract_a.id}/usage.pdf", body)

    def test_subscription_page_links_to_the_statement(self):
        self._login("a")
        body = self.url_open(f"/my/subscriptions/{self.contract_a.id}").text
        self.assertIn(f'href="/my/subscriptions/{self.contract_a.id}/usage"', body)

    def test_other_customer_is_sent_home(self):
        self._login("b")
        for suffix in ("", ".csv", ".pdf"):
            self._assert_redirects_home(self._url(self.contract_a, suffix))
        # their own contract works, without A's figures
        response = self.url_open(self._url(self.contract_b))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("130.5", response.text)

    def test_anonymous_is_sent_home_and_token_works(self):
        self._assert_redirects_home(self._url(self.contract_a))
        token = self.contract_a._portal_ensure_token()
        response = self.url_open(f"{self._url(self.contract_a)}&access_token={token}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("130.5", response.text)

    def test_csv_download(self):
        self._login("a")
        response = self.url_open(self._url(self.contract_a, ".csv"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/csv", response.headers["Content-Type"])
        self.assertIn("attachment", response.headers["Content-Disposition"])
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        (total,) = [r for r in rows if r["date"] == "total"]
        self.assertEqual(total["quantity"], "130.5")
        self.assertEqual(total["amount"], "15.25")
        day = (self.period_start + timedelta(days=2)).isoformat()
        self.assertIn(
            {"date": day, "quantity": "60"},
            [{"date": r["date"], "quantity": r["quantity"]} for r in rows],
        )

    def test_pdf_download(self):
        self._login("a")
        response = self.url_open(f"{self._url(self.contract_a, '.pdf')}&download=1")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        self.assertIn("attachment", response.headers["Content-Disposition"])
        # in test mode reports render as HTML
        self.assertIn(b"130.5", response.content)

    def test_bad_period_falls_back_to_the_current_one(self):
        self._login("a")
        response = self.url_open(f"/my/subscriptions/{self.contract_a.id}/usage?period=nope")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Usage statement", response.text)
