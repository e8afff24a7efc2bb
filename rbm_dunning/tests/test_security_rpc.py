import base64
import inspect
import json
import re
from datetime import date

from odoo import Command
from odoo.tests import HttpCase, JsonRpcException, tagged
from odoo.tools import SQL

# addons whose models and buttons these tests go through: every RBM addon
# installed (rbm_*), and the payment provider shipped with them
RBM_ADDON_PREFIX = "rbm_"
RBM_EXTRA_ADDONS = ("payment_pagbank",)

# buttons not refused to portal users yet: each is still called, and must
# write nothing (none today: every RBM button refuses the portal)
NOT_GUARDED_YET = set()

# fields of the models portal users read that are staff's only: they must carry
# groups (a name matching STAFF_FIELD_PATTERN is meant for staff unless listed
# in CUSTOMER_FIELDS)
STAFF_FIELD_PATTERN = re.compile(
    r"error|internal|reason|note|reply|response|legal|pause|suspended_by"
)
CUSTOMER_FIELDS = {
    # the terms and conditions of the contract, shown to the customer
    ("rbm.contract", "note"),
}


def _is_rbm_module(module):
    return bool(module) and (module.startswith(RBM_ADDON_PREFIX) or module in RBM_EXTRA_ADDONS)


@tagged("post_install", "-at_install")
class TestSecurityRpc(HttpCase):
    """A portal user calls every back-office button of the RBM addons through
    JSON-RPC, on their own contract and invoice (or any record): each call is
    refused with an access error and nothing is written. The buttons are found
    by introspection of the registry, so a new button is covered by default."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start = date(2026, 1, 1)
        cls.company = cls.env.company
        cls.customer = cls.env["res.partner"].create(
            {"name": "RBM RPC Customer Ltda", "is_company": True, "email": "rpc@example.com"}
        )
        cls.contact = cls.env["res.partner"].create(
            {"name": "RPC Contact", "parent_id": cls.customer.id, "email": "rpc.c@example.com"}
        )
        cls.portal_user = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "RPC Contact",
                    "login": "rbm_rpc_portal",
                    "password": "rbm_rpc_portal",
                    "partner_id": cls.contact.id,
                    "groups_id": [Command.set([cls.env.ref("base.group_portal").id])],
                }
            )
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "RBM RPC Service",
                "type": "service",
                "list_price": 100.0,
                "rbm_billing_type": "recurring",
                "taxes_id": [Command.clear()],
            }
        )
        cls.plan = cls.env["rbm.plan"].create(
            {
                "name": "RBM RPC Plan",
                "interval": 1,
                "interval_unit": "month",
                "billing_mode": "advance",
                "line_ids": [
                    Command.create({"product_id": cls.product.id, "quantity": 1, "price_unit": 100})
                ],
            }
        )
        # an endpoint, so that activating the contract queues a provisioning event
        cls.endpoint = cls.env["rbm.provisioning.endpoint"].create(
            {"name": "RPC endpoint", "url": "https://provisioning.example.com/rbm"}
        )
        cls.contract = cls.env["rbm.contract"].create(
            {"partner_id": cls.customer.id, "plan_id": cls.plan.id, "date_start": cls.start}
        )
        cls.contract.action_activate()
        cls.invoice = cls.contract.env["rbm.billing.run"]._bill(cls.contract, cls.start)["moves"]
        cls.change = cls.env["rbm.contract.change"].browse(
            cls.contract.request_change(
                "quantity", line_id=cls.contract.line_ids[:1].id, quantity=2, timing="period_end"
            )["change_id"]
        )
        if "rbm.api.key" in cls.env:
            cls.env["rbm.api.key"]._generate("RPC key", cls.company)
            cls.env["rbm.api.key.wizard"].create({"name": "RPC key 2"})
        if "rbm.usage.import.wizard" in cls.env:
            cls.env["rbm.usage.import.wizard"].create(
                {"file": base64.b64encode(b"idempotency_key,quantity\n"), "filename": "a.csv"}
            )
        if cls.env["ir.module.module"]._get("payment_demo").state == "installed":
            cls.env["payment.transaction"].sudo().create(
                {
                    "provider_id": cls.env.ref("payment.payment_provider_demo").id,
                    "payment_method_id": cls.env.ref("payment_demo.payment_method_demo").id,
                    "amount": 100.0,
                    "currency_id": cls.company.currency_id.id,
                    "partner_id": cls.customer.id,
                    "reference": "RBM-RPC-TX-1",
                }
            )
        # the records the portal user can see are the ones attacked first
        cls.portal_records = {
            "rbm.contract": cls.contract,
            "rbm.contract.line": cls.contract.line_ids[:1],
            "rbm.plan": cls.plan,
            "account.move": cls.invoice,
            "res.partner": cls.customer,
        }

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _rbm_models(self):
        """Names of the models (concrete or abstract) that an RBM addon defines or extends."""
        data = self.env["ir.model.data"].search([("model", "=", "ir.model")])
        modules = {
            d.res_id for d in data if _is_rbm_module(d.module)
        }  # ir.model ids an RBM addon created or extended
        return sorted(self.env["ir.model"].browse(modules).mapped("model"))

    def _rbm_actions(self, model_name):
        """``{name: function}`` of the ``action_*`` methods an RBM addon defines on the model."""
        actions = {}
        for cls in type(self.env[model_name]).__mro__:
            if not _is_rbm_module(getattr(cls, "_module", None)):
                continue
            for name, function in vars(cls).items():
                if name.startswith("action_") and callable(function):
                    actions.setdefault(name, function)
        return actions

    def _target(self, model_name):
        """A record to call the buttons of ``model_name`` on: the portal user's
        own, else any record, else none (the rights check comes first)."""
        if model_name in self.portal_records:
            return self.portal_records[model_name]
        Model = self.env[model_name]
        if Model._abstract:
            return Model
        return Model.with_context(active_test=False).search([], limit=1, order="id desc")

    def _fingerprint(self, model_names):
        """Rows and last write of every RBM table, of invoices and of messages:
        any write changes it."""
        tables = {"account_move", "account_move_line", "mail_message", "res_partner"}
        for name in model_names:
            Model = self.env[name]
            if not Model._abstract and Model._auto and not Model._transient:
                tables.add(Model._table)
        self.env.flush_all()
        parts = [
            SQL("SELECT %s, count(*), max(write_date) FROM %s", table, SQL.identifier(table))
            for table in sorted(tables)
        ]
        self.env.cr.execute(SQL(" UNION ALL ").join(parts))
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def _call_button(self, model_name, method_name, records, function):
        """Call the button over JSON-RPC as the logged-in user; the error name or None."""
        args = [] if getattr(function, "_api", None) == "model" else [records.ids]
        # required parameters besides self (e.g. the dashboard's key and params)
        params = list(inspect.signature(function).parameters.values())[1:]
        args += [
            {} if param.name == "params" else "mrr"
            for param in params
            if param.default is inspect.Parameter.empty
            and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        ]
        try:
            self.make_jsonrpc_request(
                "/web/dataset/call_button",
                {"model": model_name, "method": method_name, "args": args, "kwargs": {}},
            )
        except JsonRpcException as error:
            return str(error)
        return None

    # ------------------------------------------------------------
    # TESTS
    # ------------------------------------------------------------

    def test_enumeration_finds_the_buttons(self):
        """The introspection sees the buttons of all three layers (a sanity
        check: an empty enumeration would make the next test pass vacuously)."""
        models = self._rbm_models()
        self.assertIn("rbm.contract", models)
        self.assertIn("account.move", models)
        self.assertIn("action_suspend", self._rbm_actions("rbm.contract"))
        self.assertIn("action_rbm_issue_boletos", self._rbm_actions("account.move"))
        self.assertIn("action_confirm", self._rbm_actions("rbm.contract.cancel.wizard"))
        self.assertNotIn("action_post", self._rbm_actions("account.move"))  # Odoo's own
        for model_name, method_name in NOT_GUARDED_YET:
            if model_name in self.env:
                self.assertIn(method_name, self._rbm_actions(model_name))

    def test_portal_user_cannot_call_any_back_office_button(self):
        models = self._rbm_models()
        calls = [
            (model_name, method_name, function)
            for model_name in models
            for method_name, function in sorted(self._rbm_actions(model_name).items())
        ]
        self.assertGreater(len(calls), 60)
        self.authenticate("rbm_rpc_portal", "rbm_rpc_portal")
        contract_before = self.contract.read(["state", "write_date"])
        not_refused = []
        for model_name, method_name, function in calls:
            records = self._target(model_name)
            before = self._fingerprint(models)
            with self.subTest(model=model_name, method=method_name, ids=records.ids):
                error = self._call_button(model_name, method_name, records, function)
                self.env.invalidate_all()
                self.assertEqual(
                    self._fingerprint(models),
                    before,
                    f"{model_name}.{method_name} called by a portal user wrote something",
                )
                if (model_name, method_name) in NOT_GUARDED_YET:
                    continue
                if error != "odoo.exceptions.AccessError":
                    not_refused.append(f"{model_name}.{method_name} on {records}: {error}")
        self.assertFalse(
            not_refused,
            "Back-office buttons a portal user could call (expected an access error):\n"
            + "\n".join(not_refused),
        )
        self.assertEqual(self.contract.read(["state", "write_date"]), contract_before)

    def test_portal_user_cannot_suspend_own_contract_through_call_kw(self):
        """The attack spelled out: call_kw as well as call_button."""
        self.authenticate("rbm_rpc_portal", "rbm_rpc_portal")
        with self.assertRaisesRegex(JsonRpcException, "AccessError"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/rbm.contract/action_suspend",
                {
                    "model": "rbm.contract",
                    "method": "action_suspend",
                    "args": [self.contract.ids],
                    "kwargs": {},
                },
            )
        self.env.invalidate_all()
        self.assertEqual(self.contract.state, "active")

    def test_portal_user_cannot_reset_or_cancel_own_invoice(self):
        """Odoo's invoice buttons, which the RBM addons extend with work done
        as superuser (boletos written off, card retries stopped): refused
        before that work."""
        self.authenticate("rbm_rpc_portal", "rbm_rpc_portal")
        for method in ("button_draft", "button_cancel"):
            with self.subTest(method=method):
                response = self.url_open(
                    "/web/dataset/call_button",
                    data=json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "method": "call",
                            "params": {
                                "model": "account.move",
                                "method": method,
                                "args": [self.invoice.ids],
                                "kwargs": {},
                            },
                        }
                    ),
                    headers={"Content-Type": "application/json"},
                ).json()
                error = response["error"]["data"]
                self.assertEqual(error["name"], "odoo.exceptions.AccessError")
                # refused by the staff check, before any work done as superuser
                self.assertIn("back-office actions are for staff", error["message"])
        self.env.invalidate_all()
        self.assertEqual(self.invoice.state, "posted")

    def test_staff_without_rights_refused_staff_with_rights_allowed(self):
        """The check is the caller's rights, not a blanket refusal: an internal
        user without the subscription rights is refused, an administrator
        suspends the contract through the same call."""
        self.env["res.users"].with_context(no_reset_password=True).create(
            {
                "name": "RPC Employee",
                "login": "rbm_rpc_employee",
                "password": "rbm_rpc_employee",
                "groups_id": [Command.set([self.env.ref("base.group_user").id])],
            }
        )
        params = {
            "model": "rbm.contract",
            "method": "action_suspend",
            "args": [self.contract.ids],
            "kwargs": {},
        }
        self.authenticate("rbm_rpc_employee", "rbm_rpc_employee")
        with self.assertRaisesRegex(JsonRpcException, "AccessError"):
            self.make_jsonrpc_request("/web/dataset/call_button", params)
        self.env.invalidate_all()
        self.assertEqual(self.contract.state, "active")
        self.authenticate("admin", "admin")
        self.make_jsonrpc_request("/web/dataset/call_button", params)
        self.env.invalidate_all()
        self.assertEqual(self.contract.state, "suspended")

    # ------------------------------------------------------------
    # STAFF FIELDS
    # ------------------------------------------------------------

    def _search_read(self, model, domain, fields=None):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/search_read",
            {
                "model": model,
                "method": "search_read",
                "args": [domain],
                "kwargs": {"fields": fields or []},
            },
        )

    def test_staff_fields_carry_groups(self):
        """Every RBM field meant for staff on a model portal users may read is
        restricted to staff groups."""
        portal = self.env.ref("base.group_portal")
        readable = self.env["ir.model.access"].search(
            [("group_id", "=", portal.id), ("perm_read", "=", True)]
        )
        unrestricted = []
        for model_name in sorted(set(readable.mapped("model_id.model"))):
            for field in self.env[model_name]._fields.values():
                if not _is_rbm_module(getattr(field, "_module", None)):
                    continue
                if (model_name, field.name) in CUSTOMER_FIELDS:
                    continue
                if STAFF_FIELD_PATTERN.search(field.name) and not field.groups:
                    unrestricted.append(f"{model_name}.{field.name}")
        self.assertFalse(unrestricted, "Staff fields readable by portal users")

    def test_portal_user_cannot_read_staff_fields(self):
        self.contract.sudo().write({"billing_error": "Journal INV is locked"})
        self.customer.sudo().write(
            {
                "rbm_collection_paused_until": date(2026, 2, 1),
                "rbm_collection_pause_note": "Promised by phone, call the owner",
            }
        )
        self.invoice.sudo().rbm_legal_collection = True
        internal_reason = self.env.ref("rbm_recurring.cancel_reason_non_payment")
        self.authenticate("rbm_rpc_portal", "rbm_rpc_portal")
        # the customer's own contract is readable, its staff fields are not
        contracts = self._search_read("rbm.contract", [("id", "=", self.contract.id)], ["name"])
        self.assertEqual([c["id"] for c in contracts], self.contract.ids)
        for model, fields in (
            ("rbm.contract", ("billing_error", "billing_error_date", "cancel_reason_id")),
            ("res.partner", ("rbm_collection_pause_note", "rbm_collection_paused_until")),
            ("account.move", ("rbm_legal_collection",)),
        ):
            described = self.make_jsonrpc_request(
                f"/web/dataset/call_kw/{model}/fields_get",
                {"model": model, "method": "fields_get", "args": [], "kwargs": {}},
            )
            self.assertIn("display_name", described)
            for field in fields:
                self.assertNotIn(field, described, f"{model}.{field} described to the portal")
        for model, record, field in (
            ("rbm.contract", self.contract, "billing_error"),
            ("rbm.contract", self.contract, "cancel_reason_id"),
            ("rbm.contract", self.contract, "rbm_suspended_by_collection"),
            ("res.partner", self.customer, "rbm_collection_pause_note"),
            ("res.partner", self.customer, "rbm_collection_paused_until"),
            ("res.partner", self.customer, "rbm_collection_policy_id"),
            ("account.move", self.invoice, "rbm_legal_collection"),
        ):
            with self.subTest(model=model, field=field):
                with self.assertRaisesRegex(JsonRpcException, "AccessError"):
                    self._search_read(model, [("id", "=", record.id)], [field])
        # the records themselves are readable: the refusals above are the fields'
        partners = self._search_read("res.partner", [("id", "=", self.customer.id)], ["name"])
        self.assertEqual([p["id"] for p in partners], self.customer.ids)
        invoices = self._search_read("account.move", [("id", "=", self.invoice.id)], ["name"])
        self.assertEqual([i["id"] for i in invoices], self.invoice.ids)
        # internal cancellation reasons are not offered, nor readable
        reasons = self._search_read("rbm.cancel.reason", [], ["name"])
        self.assertTrue(reasons)
        self.assertNotIn(internal_reason.id, [r["id"] for r in reasons])
        with self.assertRaisesRegex(JsonRpcException, "AccessError"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/rbm.cancel.reason/read",
                {
                    "model": "rbm.cancel.reason",
                    "method": "read",
                    "args": [internal_reason.ids, ["name"]],
                    "kwargs": {},
                },
            )
