import re
from urllib.parse import urlparse

from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import HttpCase, TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestPortalChange(HttpCase):
    """Customers change and cancel their own subscription on the portal, with
    the pro-rata preview of the back office, under CSRF and record rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        portal = cls.env.ref("base.group_portal")
        # the customers have no time zone: the portal dates their changes in
        # the company's, whatever the hour of the run in UTC
        cls.env.company.partner_id.tz = "America/Sao_Paulo"
        cls.today = fields.Date.context_today(cls.env.company.with_context(tz="America/Sao_Paulo"))
        product = cls.env["product.product"].create(
            {"name": "Portal Basic", "type": "service", "taxes_id": [Command.clear()]}
        )
        big = cls.env["product.product"].create(
            {"name": "Portal Premium", "type": "service", "taxes_id": [Command.clear()]}
        )
        cls.addon = cls.env["product.product"].create(
            {
                "name": "Portal Backup",
                "type": "service",
                "list_price": 30.0,
                "taxes_id": [Command.clear()],
            }
        )
        family = cls.env["rbm.plan.family"].create({"name": "Portal plans"})
        cls.plan = cls.env["rbm.plan"].create(
            {
                "name": "Portal Basic Plan",
                "self_service": True,
                "family_id": family.id,
                "addon_product_ids": [Command.set(cls.addon.ids)],
                "line_ids": [Command.create({"product_id": product.id, "price_unit": 100.0})],
            }
        )
        cls.big_plan = cls.env["rbm.plan"].create(
            {
                "name": "Portal Premium Plan",
                "self_service": True,
                "family_id": family.id,
                "line_ids": [Command.create({"product_id": big.id, "price_unit": 300.0})],
            }
        )
        cls.contracts = {}
        for key in ("a", "b"):
            partner = cls.env["res.partner"].create({"name": f"Portal change {key}"})
            cls.env["res.users"].with_context(no_reset_password=True).create(
                {
                    "name": partner.name,
                    "login": f"rbm_change_{key}",
                    "password": f"rbm_change_{key}",
                    "partner_id": partner.id,
                    "groups_id": [Command.set(portal.ids)],
                }
            )
            contract = cls.env["rbm.contract"].create(
                {
                    "partner_id": partner.id,
                    "plan_id": cls.plan.id,
                    "date_start": cls.today.replace(day=1),
                }
            )
            contract.action_activate()
            contract.env["rbm.billing.run"]._bill(contract, cls.today)
            cls.contracts[key] = contract
        cls.contract_a = cls.contracts["a"]
        cls.contract_b = cls.contracts["b"]

    def _csrf(self, url):
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1), page

    def _form(self, url):
        """The CSRF token and the request key of the confirmation form on ``url``."""
        token, page = self._csrf(url)
        key = re.search(r'name="request_key" value="([0-9a-f]{32})"', page.text).group(1)
        return token, key, page

    def test_change_plan_with_preview(self):
        self.authenticate("rbm_change_a", "rbm_change_a")
        detail = self.url_open(f"/my/subscriptions/{self.contract_a.id}")
        self.assertIn("Change plan or quantities", detail.text)
        base = f"/my/subscriptions/{self.contract_a.id}/change"
        url = f"{base}?kind=plan&new_plan_id={self.big_plan.id}"
        token, key, page = self._form(url)
        expected = self.env["rbm.contract.change"]._prepare(
            self.contract_a, "plan", new_plan=self.big_plan, today=self.today
        )
        self.assertIn("Portal Basic Plan → Portal Premium Plan", page.text)
        for item in expected["amounts"]:
            self.assertIn(item["name"], page.text)
        self.assertFalse(self.contract_a.change_ids, "the preview must not write")
        response = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change",
            data={
                "csrf_token": token,
                "request_key": key,
                "kind": "plan",
                "new_plan_id": self.big_plan.id,
            },
        )
        self.assertEqual(urlparse(response.url).query, "changed=1")
        self.assertEqual(self.contract_a.plan_id, self.big_plan)
        self.assertEqual(self.contract_a.change_ids.state, "applied")
        self.assertEqual(
            round(sum(self.contract_a.change_ids.move_ids.mapped("amount_total_signed")), 2)
            + round(sum(self.contract_a.change_ids.charge_ids.mapped("amount")), 2),
            round(float(sum(item["amount"] for item in expected["amounts"])), 2),
        )

    def test_post_without_csrf_is_refused(self):
        self.authenticate("rbm_change_a", "rbm_change_a")
        response = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change",
            data={"kind": "plan", "new_plan_id": self.big_plan.id},
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.contract_a.plan_id, self.plan)

    def test_other_customer_cannot_change_or_cancel(self):
        self.authenticate("rbm_change_a", "rbm_change_a")
        token, _page = self._csrf(f"/my/subscriptions/{self.contract_a.id}/cancel")
        for path in ("change", "cancel"):
            response = self.url_open(
                f"/my/subscriptions/{self.contract_b.id}/{path}",
                data={
                    "csrf_token": token,
                    "kind": "plan",
                    "new_plan_id": self.big_plan.id,
                    "reason_id": self.env.ref("rbm_recurring.cancel_reason_price").id,
                },
            )
            self.assertEqual(urlparse(response.url).path, "/my")
        self.assertEqual(self.contract_b.plan_id, self.plan)
        self.assertFalse(self.contract_b.date_end)

    def test_bad_input_is_explained(self):
        self.authenticate("rbm_change_a", "rbm_change_a")
        line = self.contract_a.line_ids
        page = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change?kind=quantity&line_id={line.id}&quantity=abc"
        )
        self.assertIn("must be a number", page.text)
        page = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change?kind=quantity&line_id={line.id}&quantity=-2"
        )
        self.assertIn("zero or more", page.text)
        page = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change?kind=plan&new_plan_id={self.plan.id}"
        )
        self.assertIn("choose a plan other than the current one (field Plan)", page.text)
        self.assertFalse(self.contract_a.change_ids)
        self.assertEqual(line.quantity, 1.0)

    def test_add_an_addon(self):
        self.authenticate("rbm_change_a", "rbm_change_a")
        token, key, page = self._form(
            f"/my/subscriptions/{self.contract_a.id}/change?kind=addon_add&product_id={self.addon.id}&quantity=2"
        )
        self.assertIn("Add-on Portal Backup added", page.text)
        self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change",
            data={
                "csrf_token": token,
                "request_key": key,
                "kind": "addon_add",
                "product_id": self.addon.id,
                "quantity": "2",
            },
        )
        addon = self.contract_a.line_ids.filtered("is_addon")
        self.assertEqual((addon.product_id, addon.quantity), (self.addon, 2.0))

    def test_cancel_with_reason(self):
        self.authenticate("rbm_change_a", "rbm_change_a")
        url = f"/my/subscriptions/{self.contract_a.id}/cancel"
        token, key, page = self._form(url)
        self.assertIn("Too expensive", page.text)
        self.assertNotIn("Non-payment", page.text)
        response = self.url_open(
            url, data={"csrf_token": token, "request_key": key, "reason_id": ""}
        )
        self.assertIn("field Reason", response.text)
        self.assertFalse(self.contract_a.date_end)
        reason = self.env.ref("rbm_recurring.cancel_reason_price")
        response = self.url_open(
            url,
            data={
                "csrf_token": token,
                "request_key": key,
                "reason_id": reason.id,
                "note": "Budget cuts",
            },
        )
        self.assertEqual(urlparse(response.url).query, "cancelled=1")
        self.assertEqual(self.contract_a.cancel_reason_id, reason)
        self.assertEqual(
            self.contract_a.date_end,
            self.contract_a._get_period_containing(self.today)["full_end"],
        )
        self.assertTrue(
            any("Budget cuts" in message.body for message in self.contract_a.message_ids)
        )


@tagged("post_install", "-at_install")
class TestCustomerToday(TransactionCase):
    """The portal's 'today' for a customer: their time zone, else the company's, else UTC."""

    def test_evening_in_sao_paulo_is_still_today(self):
        company = self.env["res.company"].create({"name": "RBM Time Zone Co"})
        customer = self.env["res.partner"].create({"name": "Evening customer", "tz": False})
        with freeze_time("2026-11-28 01:30:00"):  # 22:30 on the 27th in São Paulo
            self.assertEqual(customer._rbm_get_today(company), fields.Date.to_date("2026-11-28"))
            company.partner_id.tz = "America/Sao_Paulo"
            self.assertEqual(customer._rbm_get_today(company), fields.Date.to_date("2026-11-27"))
            customer.tz = "Asia/Tokyo"
            self.assertEqual(customer._rbm_get_today(company), fields.Date.to_date("2026-11-28"))
            self.assertEqual(customer._rbm_get_tz(company), "Asia/Tokyo")


@tagged("post_install", "-at_install")
class TestChangeApi(HttpCase):
    """Integrators change and cancel contracts over XML-RPC with the same service."""

    def test_change_and_cancel_over_xmlrpc(self):
        product = self.env["product.product"].create(
            {"name": "API Basic", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = self.env["rbm.plan"].create(
            {"name": "API Basic", "line_ids": [Command.create({"product_id": product.id})]}
        )
        big = self.env["rbm.plan"].create(
            {
                "name": "API Big",
                "line_ids": [Command.create({"product_id": product.id, "quantity": 3})],
            }
        )
        partner = self.env["res.partner"].create({"name": "API customer"})
        contract = self.env["rbm.contract"].create(
            {"partner_id": partner.id, "plan_id": plan.id, "date_start": fields.Date.today()}
        )
        contract.action_activate()
        db, uid, pwd = self.env.cr.dbname, self.env.ref("base.user_admin").id, "admin"
        call = self.xmlrpc_object.execute
        preview = call(
            db,
            uid,
            pwd,
            "rbm.contract",
            "request_change",
            [contract.id],
            "plan",
            big.id,
            False,
            False,
            False,
            "auto",
            True,
        )
        self.assertEqual(preview["direction"], "upgrade")
        self.assertFalse(contract.change_ids)
        done = call(db, uid, pwd, "rbm.contract", "request_change", [contract.id], "plan", big.id)
        self.assertEqual(done["state"], "applied")
        self.assertEqual(contract.plan_id, big)
        with self.assertRaisesRegex(Exception, "field Quantity"):
            call(
                db,
                uid,
                pwd,
                "rbm.contract",
                "request_change",
                [contract.id],
                "quantity",
                False,
                contract.line_ids.filtered("is_current")[:1].id,
                False,
                -1,
            )
        result = call(
            db,
            uid,
            pwd,
            "rbm.contract",
            "request_cancellation",
            [contract.id],
            self.env.ref("rbm_recurring.cancel_reason_price").id,
            "period_end",
        )
        self.assertTrue(result["last_day"])
        self.assertEqual(
            contract.cancel_reason_id, self.env.ref("rbm_recurring.cancel_reason_price")
        )
