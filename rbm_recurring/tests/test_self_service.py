import json
import re
import uuid
from urllib.parse import urlparse

from psycopg2 import IntegrityError

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger


class SelfServiceCase(HttpCase):
    """Two customers on the portal (A with two contacts: one given the right
    to manage subscriptions, one not; B) and plans set up for self-service."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        portal = cls.env.ref("base.group_portal")
        cls.env.company.partner_id.tz = "America/Sao_Paulo"
        cls.today = fields.Date.context_today(cls.env.company.with_context(tz="America/Sao_Paulo"))

        def product(name, price):
            return cls.env["product.product"].create(
                {
                    "name": name,
                    "type": "service",
                    "list_price": price,
                    "taxes_id": [Command.clear()],
                }
            )

        cls.base = product("SS Base", 100.0)
        cls.seat = product("SS Seat", 20.0)
        cls.addon = product("SS Backup", 30.0)
        cls.secret_addon = product("SS Free Storage", 0.0)
        family = cls.env["rbm.plan.family"].create({"name": "SS plans"})

        def plan(name, price, **vals):
            return cls.env["rbm.plan"].create(
                {
                    "name": name,
                    "line_ids": [Command.create({"product_id": cls.base.id, "price_unit": price})],
                    **vals,
                }
            )

        cls.premium = plan("SS Premium", 300.0, self_service=True, family_id=family.id)
        # same period, published, but of no family: reachable only by an upgrade path
        cls.partner_plan = plan("SS Partner Edition", 250.0, self_service=True)
        # same period and family, not published: staff only
        cls.internal = plan("SS Internal Free", 0.0, family_id=family.id)
        # same period, published, another family, not in the path
        cls.other = plan("SS Other Family", 10.0, self_service=True)
        cls.plan = cls.env["rbm.plan"].create(
            {
                "name": "SS Basic",
                "self_service": True,
                "family_id": family.id,
                "upgrade_plan_ids": [Command.set(cls.partner_plan.ids)],
                "addon_product_ids": [Command.set(cls.addon.ids)],
                "addon_max_quantity": 3.0,
                "commitment_months": 12,
                "early_termination_fee_type": "fixed",
                "early_termination_fee": 150.0,
                "line_ids": [
                    Command.create({"product_id": cls.base.id, "price_unit": 100.0}),
                    Command.create(
                        {
                            "product_id": cls.seat.id,
                            "price_unit": 20.0,
                            "quantity": 3,
                            "portal_editable": True,
                            "portal_min_quantity": 2,
                            "portal_max_quantity": 5,
                        }
                    ),
                ],
            }
        )
        cls.customer_a = cls.env["res.partner"].create(
            {"name": "SS Customer A", "is_company": True}
        )
        cls.customer_b = cls.env["res.partner"].create(
            {"name": "SS Customer B", "is_company": True}
        )
        cls.clerk = cls.env["res.partner"].create(
            {"name": "SS Clerk", "parent_id": cls.customer_a.id, "type": "contact"}
        )
        cls.deputy = cls.env["res.partner"].create(
            {
                "name": "SS Deputy",
                "parent_id": cls.customer_a.id,
                "type": "contact",
                "rbm_manage_subscriptions": True,
            }
        )
        for login, partner in (
            ("ss_a", cls.customer_a),
            ("ss_b", cls.customer_b),
            ("ss_clerk", cls.clerk),
            ("ss_deputy", cls.deputy),
        ):
            cls.env["res.users"].with_context(no_reset_password=True).create(
                {
                    "name": partner.name,
                    "login": login,
                    "password": login + "_pw",
                    "partner_id": partner.id,
                    "groups_id": [Command.set(portal.ids)],
                }
            )
        cls.contract_a = cls._make_contract(cls.customer_a)
        cls.contract_b = cls._make_contract(cls.customer_b)
        cls.base_line = cls.contract_a.line_ids.filtered(lambda ln: ln.product_id == cls.base)
        cls.seat_line = cls.contract_a.line_ids.filtered(lambda ln: ln.product_id == cls.seat)

    @classmethod
    def _make_contract(cls, partner):
        contract = cls.env["rbm.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": cls.plan.id,
                "date_start": cls.today.replace(day=1),
            }
        )
        contract.action_activate()
        contract.env["rbm.billing.run"]._bill(contract, cls.today)
        return contract

    def _login(self, login):
        self.authenticate(login, login + "_pw")

    def _form(self, url):
        """The CSRF token of the session and the request key of the
        confirmation form on ``url`` (None when the page shows no form)."""
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200, url)
        key = re.search(r'name="request_key" value="([0-9a-f]{32})"', page.text)
        return self._csrf(), key and key.group(1), page

    def _csrf(self):
        account = self.url_open("/my/account")
        return re.search(r'name="csrf_token" value="([^"]+)"', account.text).group(1)

    def _post_change(self, contract, **values):
        """Preview the change, then confirm it as the customer would."""
        url = f"/my/subscriptions/{contract.id}/change"
        query = "&".join(f"{k}={v}" for k, v in values.items())
        csrf, key, page = self._form(f"{url}?{query}")
        # when the preview refuses, there is no form: post what an attacker would
        key = key or uuid.uuid4().hex
        response = self.url_open(url, data={"csrf_token": csrf, "request_key": key, **values})
        return page, response

    def _state(self, contract):
        """What a change could have written: changes, lines, documents."""
        contract.invalidate_recordset()
        return (
            contract.plan_id,
            len(contract.change_ids),
            [(ln.product_id.name, ln.quantity, ln.date_end) for ln in contract.line_ids],
            len(contract.invoice_ids),
            contract.date_end,
        )


@tagged("post_install", "-at_install")
class TestSelfServiceRules(SelfServiceCase):
    """Plan and line settings decide what a customer may change on the portal."""

    def test_only_published_plans_of_the_family_or_path_are_offered(self):
        self._login("ss_a")
        page = self.url_open(f"/my/subscriptions/{self.contract_a.id}/change")
        select = re.search(r'<select name="new_plan_id".*?</select>', page.text, re.S).group(0)
        options = re.findall(r'<option value="(\d+)"', select)
        self.assertIn(str(self.premium.id), options)
        self.assertIn(str(self.partner_plan.id), options)
        self.assertNotIn(str(self.internal.id), options)
        self.assertNotIn(str(self.other.id), options)
        before = self._state(self.contract_a)
        for attack in (self.internal, self.other):
            page, response = self._post_change(self.contract_a, kind="plan", new_plan_id=attack.id)
            self.assertIn(f"plan {attack.name} is not offered to you (field Plan)", page.text)
            self.assertIn(f"plan {attack.name} is not offered to you (field Plan)", response.text)
        self.assertEqual(self._state(self.contract_a), before)
        # the path is open: the partner edition is an upgrade (250 > 160)
        page, response = self._post_change(
            self.contract_a, kind="plan", new_plan_id=self.partner_plan.id
        )
        self.assertEqual(urlparse(response.url).query, "changed=1")
        self.assertEqual(self.contract_a.plan_id, self.partner_plan)

    def test_quantity_within_the_line_bounds(self):
        self._login("ss_a")
        before = self._state(self.contract_a)
        for quantity in ("1", "6", "0"):
            page, response = self._post_change(
                self.contract_a, kind="quantity", line_id=self.seat_line.id, quantity=quantity
            )
            self.assertIn("SS Seat: the quantity must be between 2.00 and 5.00", response.text)
            self.assertIn("(field Quantity)", response.text)
        self.assertEqual(self._state(self.contract_a), before)
        _page, response = self._post_change(
            self.contract_a, kind="quantity", line_id=self.seat_line.id, quantity="4"
        )
        self.assertEqual(urlparse(response.url).query, "changed=1")
        current = self.contract_a.line_ids.filtered(
            lambda ln: ln.is_current and ln.product_id == self.seat
        )
        self.assertEqual(current.quantity, 4.0)
        self.assertEqual(current.plan_line_id, self.seat_line.plan_line_id)

    def test_base_line_neither_changed_nor_removed(self):
        self._login("ss_a")
        before = self._state(self.contract_a)
        _page, response = self._post_change(
            self.contract_a, kind="quantity", line_id=self.base_line.id, quantity="0"
        )
        self.assertIn(
            "line SS Base: you cannot change this quantity (field Quantity)", response.text
        )
        _page, response = self._post_change(
            self.contract_a, kind="addon_remove", line_id=self.base_line.id
        )
        self.assertIn(
            "line SS Base: a line of the plan cannot be removed (field Line)", response.text
        )
        self.assertEqual(self._state(self.contract_a), before)

    def test_only_the_offered_add_ons_up_to_their_max(self):
        self._login("ss_a")
        before = self._state(self.contract_a)
        _page, response = self._post_change(
            self.contract_a, kind="addon_add", product_id=self.secret_addon.id, quantity="1"
        )
        self.assertIn(
            "SS Free Storage is not an add-on allowed by the plan SS Basic (field Add-on)",
            response.text,
        )
        _page, response = self._post_change(
            self.contract_a, kind="addon_add", product_id=self.addon.id, quantity="4"
        )
        self.assertIn("SS Backup: the quantity must be between 1.00 and 3.00", response.text)
        self.assertEqual(self._state(self.contract_a), before)
        _page, response = self._post_change(
            self.contract_a, kind="addon_add", product_id=self.addon.id, quantity="2"
        )
        self.assertEqual(urlparse(response.url).query, "changed=1")
        _page, response = self._post_change(
            self.contract_a, kind="addon_add", product_id=self.addon.id, quantity="1"
        )
        self.assertIn("already has the add-on SS Backup", response.text)
        addon = self.contract_a.line_ids.filtered("is_addon")
        self.assertEqual((addon.product_id, addon.quantity), (self.addon, 2.0))

    def test_bad_numbers_are_named_and_write_nothing(self):
        self._login("ss_a")
        url = f"/my/subscriptions/{self.contract_a.id}/change"
        csrf, _key, _page = self._form(url)
        before = self._state(self.contract_a)
        cases = [
            ({"kind": "quantity", "line_id": self.seat_line.id, "quantity": q}, "must be a number")
            for q in ("nan", "NaN", "inf", "-Infinity", "abc", "", "1e400", "4,5")
        ] + [
            (
                {"kind": "quantity", "line_id": self.seat_line.id, "quantity": "-3"},
                "must be zero or more (field Quantity)",
            ),
            (
                {"kind": "addon_add", "product_id": self.addon.id, "quantity": "1e300"},
                "must be at most 1,000,000,000 (field Quantity)",
            ),
            (
                {"kind": "quantity", "line_id": "9" * 30, "quantity": "3"},
                "choose one of the options offered (field Line)",
            ),
            (
                {"kind": "plan", "new_plan_id": "-1"},
                "choose one of the options offered (field Plan)",
            ),
            (
                {"kind": "addon_add", "product_id": "1.5", "quantity": "1"},
                "choose one of the options offered (field Add-on)",
            ),
        ]
        for values, message in cases:
            for method in ("GET", "POST"):
                if method == "GET":
                    query = "&".join(f"{k}={v}" for k, v in values.items())
                    response = self.url_open(f"{url}?{query}")
                else:
                    response = self.url_open(
                        url, data={"csrf_token": csrf, "request_key": "a" * 32, **values}
                    )
                self.assertEqual(response.status_code, 200, (values, method))
                self.assertIn(message, response.text, (values, method))
                if "must be a number" in message:
                    self.assertIn("(field Quantity)", response.text)
        self.assertEqual(self._state(self.contract_a), before)
        self.assertFalse(self.env["rbm.contract.request"].search([("key", "=", "a" * 32)]))


@tagged("post_install", "-at_install")
class TestSelfServiceRights(SelfServiceCase):
    """The right to change or cancel: the customer's own user and the
    contacts given it; other contacts only see the subscription."""

    def test_contact_without_the_right_sees_but_is_refused(self):
        self._login("ss_clerk")
        detail = self.url_open(f"/my/subscriptions/{self.contract_a.id}")
        self.assertEqual(detail.status_code, 200)
        self.assertIn(self.contract_a.name, detail.text)
        self.assertNotIn("Change plan or quantities", detail.text)
        self.assertIn("and the contacts they name may change or cancel", detail.text)
        refusal = (
            f"SS Customer A, SS Clerk may see contract {self.contract_a.name} but not change "
            "or cancel it"
        )
        before = self._state(self.contract_a)
        for path in ("change", "cancel"):
            page = self.url_open(f"/my/subscriptions/{self.contract_a.id}/{path}")
            self.assertEqual(page.status_code, 403)
            self.assertIn(refusal, page.text)
        # a form posted anyway (with a valid CSRF token of the session)
        csrf = self._csrf()
        response = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/change",
            data={
                "csrf_token": csrf,
                "request_key": "b" * 32,
                "kind": "plan",
                "new_plan_id": self.premium.id,
            },
        )
        self.assertEqual(response.status_code, 403)
        self.assertIn(refusal, response.text)
        response = self.url_open(
            f"/my/subscriptions/{self.contract_a.id}/cancel",
            data={
                "csrf_token": csrf,
                "request_key": "c" * 32,
                "reason_id": self.env.ref("rbm_recurring.cancel_reason_price").id,
            },
        )
        self.assertEqual(response.status_code, 403)
        self.assertIn(refusal, response.text)
        self.assertEqual(self._state(self.contract_a), before)

    def test_contact_given_the_right_changes(self):
        self._login("ss_deputy")
        _page, response = self._post_change(
            self.contract_a, kind="plan", new_plan_id=self.premium.id
        )
        self.assertEqual(urlparse(response.url).query, "changed=1")
        self.assertEqual(self.contract_a.plan_id, self.premium)
        self.assertTrue(
            any(
                "Change requested by the customer (SS Customer A, SS Deputy)" in m.body
                for m in self.contract_a.message_ids
            )
        )

    def test_other_customer_is_sent_away(self):
        self._login("ss_b")
        before = self._state(self.contract_a)
        for path in ("change", "cancel"):
            page = self.url_open(f"/my/subscriptions/{self.contract_a.id}/{path}")
            self.assertEqual(urlparse(page.url).path, "/my")
        self.assertEqual(self._state(self.contract_a), before)


@tagged("post_install", "-at_install")
class TestSelfServiceJsonRpc(SelfServiceCase):
    """A portal user calling the service methods over /web/dataset/call_kw is
    held to the same rules as the portal pages."""

    def _call(self, method, contract, *args, **kwargs):
        payload = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {
                    "model": "rbm.contract",
                    "method": method,
                    "args": [[contract.id], *args],
                    "kwargs": kwargs,
                },
            }
        )  # NaN and Infinity go out as JSON's non-standard literals, as an attacker may send
        response = self.url_open(
            "/web/dataset/call_kw", data=payload, headers={"Content-Type": "application/json"}
        )
        body = response.json()
        if "error" in body:
            return None, body["error"]["data"]["message"]
        return body["result"], None

    def test_attacks_over_json_rpc_are_refused(self):
        self._login("ss_a")
        before = self._state(self.contract_a)
        attacks = [
            (("plan", self.internal.id), {}, "is not offered to you (field Plan)"),
            (("plan", self.other.id), {}, "is not offered to you (field Plan)"),
            (
                ("quantity",),
                {"line_id": self.base_line.id, "quantity": 0},
                "you cannot change this quantity (field Quantity)",
            ),
            (
                ("quantity",),
                {"line_id": self.seat_line.id, "quantity": 1},
                "must be between 2.00 and 5.00 (field Quantity)",
            ),
            (
                ("quantity",),
                {"line_id": self.seat_line.id, "quantity": float("nan")},
                "must be a number (field Quantity)",
            ),
            (
                ("quantity",),
                {"line_id": self.seat_line.id, "quantity": float("inf")},
                "must be a number (field Quantity)",
            ),
            (
                ("quantity",),
                {"line_id": self.seat_line.id, "quantity": "4"},
                "must be a number (field Quantity)",
            ),
            (
                ("addon_remove",),
                {"line_id": self.base_line.id},
                "a line of the plan cannot be removed (field Line)",
            ),
            (
                ("addon_add",),
                {"product_id": self.secret_addon.id, "quantity": 1},
                "is not an add-on allowed by the plan SS Basic (field Add-on)",
            ),
            (
                ("addon_add",),
                {"product_id": self.addon.id, "quantity": 1e300},
                "must be at most 1,000,000,000 (field Quantity)",
            ),
            (
                ("addon_add",),
                {"product_id": "1", "quantity": 1},
                "is not a record id (field Add-on)",
            ),
            # a downgrade made effective now would credit the rest of the period
            (
                ("quantity",),
                {"line_id": self.seat_line.id, "quantity": 2, "timing": "now"},
                "the plan decides when a change you make applies (field Timing)",
            ),
        ]
        for args, kwargs, message in attacks:
            for preview in (True, False):
                result, error = self._call(
                    "request_change", self.contract_a, *args, preview=preview, **kwargs
                )
                self.assertIsNone(result, (args, kwargs))
                self.assertIn(message, error, (args, kwargs))
        result, error = self._call(
            "request_cancellation", self.contract_a, timing="now", preview=False
        )
        self.assertIn("ends at the end of its period (field Timing)", error)
        result, error = self._call("request_cancellation", self.contract_a, preview=False)
        self.assertIn("please tell us why you are leaving (field Reason)", error)
        self.assertEqual(self._state(self.contract_a), before)
        # the other customer's contract is not even readable
        result, error = self._call("request_change", self.contract_b, "plan", self.premium.id)
        self.assertIsNone(result)
        self.assertEqual(self.contract_b.plan_id, self.plan)
        # what the portal allows, the service allows
        result, error = self._call(
            "request_change", self.contract_a, "quantity", line_id=self.seat_line.id, quantity=5
        )
        self.assertIsNone(error)
        self.assertEqual(result["state"], "applied")
        self.assertEqual(
            self.contract_a.line_ids.filtered(
                lambda ln: ln.is_current and ln.product_id == self.seat
            ).quantity,
            5.0,
        )

    def test_contact_without_the_right_over_json_rpc(self):
        self._login("ss_clerk")
        before = self._state(self.contract_a)
        for method, args in (
            ("request_change", ("plan", self.premium.id)),
            ("request_cancellation", (self.env.ref("rbm_recurring.cancel_reason_price").id,)),
        ):
            result, error = self._call(method, self.contract_a, *args)
            self.assertIsNone(result)
            self.assertIn("may see contract", error)
            self.assertIn("but not change or cancel it", error)
        self.assertEqual(self._state(self.contract_a), before)


@tagged("post_install", "-at_install")
class TestSelfServiceOnce(SelfServiceCase):
    """A double click, a resubmitted form or a second cancellation applies once."""

    def test_same_form_twice_makes_one_change_one_add_on_one_invoice(self):
        self._login("ss_a")
        url = f"/my/subscriptions/{self.contract_a.id}/change"
        values = {"kind": "addon_add", "product_id": self.addon.id, "quantity": "2"}
        csrf, key, _page = self._form(f"{url}?kind=addon_add&product_id={self.addon.id}&quantity=2")
        invoices = len(self.contract_a.invoice_ids)
        for _attempt in range(2):
            response = self.url_open(url, data={"csrf_token": csrf, "request_key": key, **values})
            self.assertEqual(urlparse(response.url).query, "changed=1")
        self.assertEqual(len(self.contract_a.change_ids), 1)
        self.assertEqual(len(self.contract_a.line_ids.filtered("is_addon")), 1)
        self.assertEqual(len(self.contract_a.invoice_ids), invoices + 1)
        request = self.env["rbm.contract.request"].search([("key", "=", key)])
        self.assertEqual(request.change_id, self.contract_a.change_ids)

    def test_bad_reason_on_the_cancel_form(self):
        self._login("ss_a")
        url = f"/my/subscriptions/{self.contract_a.id}/cancel"
        csrf, key, _page = self._form(url)
        for reason in ("", "abc", "nan", "-1", "9" * 30, "1e3", str(2**31)):
            response = self.url_open(
                url, data={"csrf_token": csrf, "request_key": key, "reason_id": reason}
            )
            self.assertEqual(response.status_code, 200, reason)
            self.assertIn("please tell us why you are leaving (field Reason)", response.text)
        self.assertFalse(self.contract_a.date_end)
        self.assertFalse(self.env["rbm.contract.request"].search([("key", "=", key)]))

    def test_second_cancellation_is_refused_with_the_end_date(self):
        self._login("ss_a")
        url = f"/my/subscriptions/{self.contract_a.id}/cancel"
        reason = self.env.ref("rbm_recurring.cancel_reason_price")
        csrf, key, page = self._form(url)
        self.assertIn("Early-termination fee", page.text)
        values = {"csrf_token": csrf, "reason_id": reason.id}
        response = self.url_open(url, data={**values, "request_key": key})
        self.assertEqual(urlparse(response.url).query, "cancelled=1")
        last_day = self.contract_a._get_period_containing(self.today)["full_end"]
        self.assertEqual(self.contract_a.date_end, last_day)
        # the same form again (double click): the first answer
        response = self.url_open(url, data={**values, "request_key": key})
        self.assertEqual(urlparse(response.url).query, "cancelled=1")
        # another form (second tab): refused, with the date it ends
        response = self.url_open(url, data={**values, "request_key": "d" * 32})
        ends = last_day.strftime("%m/%d/%Y")
        self.assertIn(
            f"Contract {self.contract_a.name} is already cancelled: its last day of service "
            f"is {ends}.",
            response.text,
        )
        fees = self.contract_a.invoice_ids.filtered("rbm_termination_fee")
        self.assertEqual(len(fees), 1)
        self.assertEqual(fees.amount_untaxed, 150.0)
        with self.assertRaisesRegex(UserError, "already cancelled"):
            self.contract_a._cancel(reason, "now", today=self.today)
        self.assertEqual(self.contract_a.invoice_ids.filtered("rbm_termination_fee"), fees)


@tagged("post_install", "-at_install")
class TestSelfServiceSettings(TransactionCase):
    """Back-office settings of self-service, and the fee's database guard."""

    def setUp(self):
        super().setUp()
        self.product = self.env["product.product"].create(
            {"name": "Settings base", "type": "service", "taxes_id": [Command.clear()]}
        )

    def test_settings_on_the_plan_and_contact_forms(self):
        family = self.env["rbm.plan.family"].create({"name": "Form family"})
        target = self.env["rbm.plan"].create({"name": "Form target", "self_service": True})
        with Form(self.env["rbm.plan"]) as form:
            form.name = "Form plan"
            form.self_service = True
            form.family_id = family
            form.upgrade_plan_ids.add(target)
            form.addon_max_quantity = 4
            with form.line_ids.new() as line:
                line.product_id = self.product
                line.portal_editable = True
                line.portal_min_quantity = 1
                line.portal_max_quantity = 8
        plan = form.record
        self.assertEqual(
            (plan.self_service, plan.family_id, plan.upgrade_plan_ids, plan.addon_max_quantity),
            (True, family, target, 4.0),
        )
        self.assertEqual(
            plan.line_ids.mapped(
                lambda ln: (ln.portal_editable, ln.portal_min_quantity, ln.portal_max_quantity)
            ),
            [(True, 1.0, 8.0)],
        )
        company = self.env["res.partner"].create({"name": "Form company", "is_company": True})
        contact = self.env["res.partner"].create({"name": "Form contact", "parent_id": company.id})
        with Form(contact) as form:
            form.rbm_manage_subscriptions = True
        self.assertTrue(contact.rbm_manage_subscriptions)

    def test_line_bounds_and_path_are_checked(self):
        with self.assertRaisesRegex(ValidationError, "field Customer Min Quantity"):
            self.env["rbm.plan"].create(
                {
                    "name": "Bad min",
                    "line_ids": [
                        Command.create(
                            {
                                "product_id": self.product.id,
                                "portal_editable": True,
                                "portal_min_quantity": 0,
                            }
                        )
                    ],
                }
            )
        with self.assertRaisesRegex(ValidationError, "field Customer Max Quantity"):
            self.env["rbm.plan"].create(
                {
                    "name": "Bad max",
                    "line_ids": [
                        Command.create(
                            {
                                "product_id": self.product.id,
                                "portal_editable": True,
                                "portal_min_quantity": 3,
                                "portal_max_quantity": 2,
                            }
                        )
                    ],
                }
            )
        plan = self.env["rbm.plan"].create({"name": "Loop"})
        with self.assertRaisesRegex(ValidationError, "own upgrade path"):
            plan.upgrade_plan_ids = plan

    def test_one_termination_fee_per_contract_in_the_database(self):
        plan = self.env["rbm.plan"].create(
            {"name": "Fee plan", "line_ids": [Command.create({"product_id": self.product.id})]}
        )
        partner = self.env["res.partner"].create({"name": "Fee customer"})
        contract = self.env["rbm.contract"].create(
            {"partner_id": partner.id, "plan_id": plan.id, "date_start": fields.Date.today()}
        )
        contract.action_activate()
        fee = self.env.ref("rbm_recurring.product_rbm_early_termination")
        item = [{"product": fee, "name": "Fee", "amount": 10.0}]
        first = contract._create_document(
            "out_invoice", item, fields.Date.today(), extra_vals={"rbm_termination_fee": True}
        )
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            with self.env.cr.savepoint():
                contract._create_document(
                    "out_invoice",
                    item,
                    fields.Date.today(),
                    extra_vals={"rbm_termination_fee": True},
                )
        # a cancelled fee does not count
        first.button_cancel()
        first.flush_recordset()
        second = contract._create_document(
            "out_invoice", item, fields.Date.today(), extra_vals={"rbm_termination_fee": True}
        )
        self.assertTrue(second.rbm_termination_fee)


@tagged("post_install", "-at_install")
class TestSelfServiceInPortuguese(TransactionCase):
    """The self-service refusals and settings speak Brazilian Portuguese."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("pt_BR")
        cls.env["ir.module.module"]._load_module_terms(["rbm_recurring"], ["pt_BR"])

    def test_refusals_and_labels_in_portuguese(self):
        product = self.env["product.product"].create(
            {"name": "PT base", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = self.env["rbm.plan"].create(
            {"name": "PT plan", "line_ids": [Command.create({"product_id": product.id})]}
        )
        partner = self.env["res.partner"].create({"name": "Cliente PT"})
        contract = self.env["rbm.contract"].create(
            {"partner_id": partner.id, "plan_id": plan.id, "date_start": fields.Date.today()}
        )
        Change = self.env["rbm.contract.change"].with_context(lang="pt_BR")
        with self.assertRaisesRegex(
            ValidationError, "a quantidade deve ser um número \\(campo Quantidade\\)"
        ):
            Change._check_quantity_value(contract, float("nan"))
        with self.assertRaisesRegex(
            ValidationError, "o plano decide quando uma alteração feita por você se aplica"
        ):
            Change._check_self_service(contract, "plan", plan, None, None, None, "now")
        field = self.env["ir.model.fields"]._get("rbm.plan", "self_service")
        self.assertEqual(
            field.with_context(lang="pt_BR").field_description, "Oferecido para autoatendimento"
        )
