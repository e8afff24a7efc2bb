import re
from datetime import date
from urllib.parse import urlparse

import requests

from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import HOST, TransactionCase, tagged
from odoo.tools import config

from .common import race_through_table_lock


@tagged("post_install", "-at_install")
class TestConcurrentPortalSubmit(TransactionCase):
    """A customer double-clicks *Confirm*: two identical POSTs of the portal
    form reach the Odoo HTTP server of this test run at the same moment, each
    served in its own thread, cursor and transaction (committed data, real
    locks; this is no HttpCase, whose requests share the test cursor one at a
    time). One change, one add-on line and one invoice come out of it, and
    both clicks see the change recorded.

    To be sure both requests are inside PostgreSQL together, a third
    connection holds a SHARE lock on the request table: each request checks
    its form, reads the contract and waits at the insertion of its request
    key. Once PostgreSQL shows both waiting the lock is released; the first
    to insert the key goes on, the other waits for it to commit, fails to
    serialize, is replayed by the HTTP layer and finds the key taken."""

    def setUp(self):
        super().setUp()
        today = date.today()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            products = env["product.product"].create(
                [
                    {
                        "name": name,
                        "type": "service",
                        "list_price": price,
                        "taxes_id": [Command.clear()],
                    }
                    for name, price in (("Race base", 100.0), ("Race backup", 30.0))
                ]
            )
            plan = env["rbm.plan"].create(
                {
                    "name": "Race self-service",
                    "self_service": True,
                    "commitment_months": 12,
                    "early_termination_fee_type": "fixed",
                    "early_termination_fee": 150.0,
                    "addon_product_ids": [Command.set(products[1].ids)],
                    "line_ids": [Command.create({"product_id": products[0].id})],
                }
            )
            partner = env["res.partner"].create({"name": "Race portal customer", "tz": "UTC"})
            user = (
                env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": partner.name,
                        "login": "rbm_race_portal",
                        "password": "rbm_race_portal",
                        "partner_id": partner.id,
                        "groups_id": [Command.set(env.ref("base.group_portal").ids)],
                    }
                )
            )
            contract = env["rbm.contract"].create(
                {"partner_id": partner.id, "plan_id": plan.id, "date_start": today.replace(day=1)}
            )
            contract.action_activate()
            contract.env["rbm.billing.run"]._bill(contract, today)
            self.contract_id = contract.id
            self.addon_id = products[1].id
            self.cleanup = (products.ids, plan.id, partner.id, user.id)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        product_ids, plan_id, partner_id, user_id = self.cleanup
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM account_move_line WHERE move_id IN "
                "(SELECT id FROM account_move WHERE rbm_contract_id = %s)",
                [self.contract_id],
            )
            cr.execute("DELETE FROM account_move WHERE rbm_contract_id = %s", [self.contract_id])
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'rbm.contract' AND res_id = %s",
                [self.contract_id],
            )
            cr.execute(
                "DELETE FROM mail_followers WHERE res_model = 'rbm.contract' AND res_id = %s",
                [self.contract_id],
            )
            cr.execute("DELETE FROM rbm_contract WHERE id = %s", [self.contract_id])
            cr.execute("DELETE FROM rbm_plan WHERE id = %s", [plan_id])
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["res.users"].browse(user_id).unlink()
            env["res.partner"].browse(partner_id).unlink()
            env["product.product"].browse(product_ids).product_tmpl_id.unlink()

    def _counts(self):
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT (SELECT count(*) FROM rbm_contract_change WHERE contract_id = %(c)s),
                       (SELECT count(*) FROM rbm_contract_line
                         WHERE contract_id = %(c)s AND is_addon),
                       (SELECT count(*) FROM account_move WHERE rbm_contract_id = %(c)s),
                       (SELECT count(*) FROM rbm_contract_request WHERE contract_id = %(c)s)
                """,
                {"c": self.contract_id},
            )
            return cr.fetchone()

    def _login(self, base):
        browser = requests.Session()
        login = browser.get(f"{base}/web/login", timeout=60)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        browser.post(
            f"{base}/web/login",
            data={"login": "rbm_race_portal", "password": "rbm_race_portal", "csrf_token": csrf},
            timeout=60,
        )
        return browser

    def _form(self, browser, url, params=None):
        page = browser.get(url, params=params, timeout=60)
        return page, {
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1),
            "request_key": re.search(r'name="request_key" value="([0-9a-f]{32})"', page.text).group(
                1
            ),
        }

    def _race(self, browser, url, forms):
        """POST each form at the same moment, each on its own connection with
        the browser's session; (responses, sql_db error lines)."""

        def click(form):
            session = requests.Session()
            session.cookies.update(browser.cookies)
            return session.post(url, data=form, timeout=120)

        responses, waiting, hung, errors = race_through_table_lock(
            self,
            "rbm_contract_request",
            {name: (lambda form=form: click(form)) for name, form in forms.items()},
        )
        self.assertEqual(waiting, len(forms), "both requests must wait in PostgreSQL together")
        self.assertFalse(hung, "a request hung")
        for name, response in responses.items():
            self.assertIsInstance(response, requests.Response, f"request {name}: {response!r}")
            self.assertEqual(response.status_code, 200, response.text[:500])
        return responses, errors

    def test_double_click_on_confirm_applies_once(self):
        base = f"http://{HOST}:{config['http_port']}"
        url = f"{base}/my/subscriptions/{self.contract_id}/change"
        values = {"kind": "addon_add", "product_id": str(self.addon_id), "quantity": "2"}
        registry_lock = Registry._lock
        Registry._lock = DummyRLock()
        try:
            browser = self._login(base)
            page, form = self._form(browser, url, values)
            self.assertIn("Add-on Race backup added", page.text)
            before = self._counts()
            # the same form twice: same CSRF token, same request key
            responses, errors = self._race(
                browser, url, {"a": {**form, **values}, "b": {**form, **values}}
            )
        finally:
            Registry._lock = registry_lock
        # the second click's key insertion failed to serialize once (the pages
        # both clicks are redirected to may conflict on other rows: not counted)
        conflicts = [
            line
            for line in errors
            if "could not serialize" in line and "INSERT INTO rbm_contract_request" in line
        ]
        self.assertEqual(len(conflicts), 1, [line[-300:] for line in errors])
        for response in responses.values():
            self.assertEqual(urlparse(response.url).query, "changed=1", response.text[:500])
        changes, addons, moves, keys = before
        # one change, one add-on line, one invoice (the add-on's prorated part), one key
        self.assertEqual(self._counts(), (changes + 1, addons + 1, moves + 1, keys + 1))

    def test_two_tabs_cancel_at_the_same_moment(self):
        """Two cancellation forms (two tabs: two request keys) sent together:
        one cancels and bills the fee, the other waits on the contract,
        is replayed and refused with the date the contract ends."""
        base = f"http://{HOST}:{config['http_port']}"
        url = f"{base}/my/subscriptions/{self.contract_id}/cancel"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            reason = env.ref("rbm_recurring.cancel_reason_price").id
        registry_lock = Registry._lock
        Registry._lock = DummyRLock()
        try:
            browser = self._login(base)
            tabs = {}
            for name in ("a", "b"):
                _page, form = self._form(browser, url)
                tabs[name] = {**form, "reason_id": str(reason)}
            self.assertNotEqual(tabs["a"]["request_key"], tabs["b"]["request_key"])
            responses, errors = self._race(browser, url, tabs)
        finally:
            Registry._lock = registry_lock
        conflicts = [
            line
            for line in errors
            if "could not serialize" in line and "FROM rbm_contract WHERE id IN" in line
        ]
        self.assertEqual(len(conflicts), 1, [line[-300:] for line in errors])
        done = [r for r in responses.values() if urlparse(r.url).query == "cancelled=1"]
        refused = [r for r in responses.values() if r not in done]
        self.assertEqual((len(done), len(refused)), (1, 1))
        self.assertIn("is already cancelled: its last day of service is", refused[0].text)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*), sum(amount_untaxed) FROM account_move "
                "WHERE rbm_contract_id = %s AND rbm_termination_fee",
                [self.contract_id],
            )
            self.assertEqual(cr.fetchone(), (1, 150.0))
            cr.execute(
                "SELECT count(*) FROM rbm_contract_request WHERE contract_id = %s AND kind = %s",
                [self.contract_id, "cancel"],
            )
            self.assertEqual(cr.fetchone()[0], 1)
