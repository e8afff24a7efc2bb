from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestApiKeys(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Empresa B"})
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Gestora",
                "login": "gestora",
                "password": "gestora-pass-1",
                "company_id": cls.company_a.id,
                "company_ids": [Command.set(cls.company_a.ids)],
                "groups_id": [
                    Command.set(
                        [
                            cls.env.ref("base.group_user").id,
                            cls.env.ref("rbm_recurring.rbm_recurring_group_manager").id,
                        ]
                    )
                ],
            }
        )
        cls.Key = cls.env["rbm.api.key"].with_user(cls.manager)

    def _call_kw(self, model, method, args, kwargs=None, route="/web/dataset/call_kw"):
        return self.make_jsonrpc_request(
            route,
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def test_new_api_key_button_of_the_list_opens_the_wizard(self):
        view = self.env.ref("rbm_metering.rbm_api_key_view_list")
        arch = self.env["rbm.api.key"].get_view(view.id, "list")["arch"]
        [button] = etree.fromstring(arch).xpath("//header/button[@string='New API Key']")
        self.assertEqual(button.get("type"), "object")
        self.assertEqual(button.get("display"), "always")
        # as the web client calls a header button when no record is selected
        self.authenticate("gestora", "gestora-pass-1")
        action = self.make_jsonrpc_request(
            "/web/dataset/call_button",
            {
                "model": "rbm.api.key",
                "method": button.get("name"),
                "args": [[]],
                "kwargs": {"context": {"active_test": False}},
            },
        )
        self.assertEqual(
            (action["type"], action["res_model"], action["target"]),
            ("ir.actions.act_window", "rbm.api.key.wizard", "new"),
        )
        # the wizard as the user fills it in, then the key shown once
        with Form(self.env["rbm.api.key.wizard"].with_user(self.manager)) as form:
            form.name = "Plataforma (produção)"
        shown = form.record.action_generate()
        self.assertEqual(shown["res_model"], "rbm.api.key.show")
        key = shown["context"]["default_key"]
        show = Form(self.env["rbm.api.key.show"].with_context(shown["context"]))
        self.assertEqual(show.key, key)
        record = self.env["rbm.api.key"].search([("name", "=", "Plataforma (produção)")])
        self.assertEqual(record.company_id, self.company_a)
        self.assertEqual(record.create_uid, self.manager)
        self.assertEqual(self.env["rbm.api.key"]._authenticate(key), record)

    def test_keys_only_for_companies_the_user_may_access(self):
        with self.assertRaisesRegex(AccessError, "Empresa B"):
            self.Key._generate("Outra", self.company_b)
        wizard = (
            self.env["rbm.api.key.wizard"]
            .with_user(self.manager)
            .create({"name": "Outra", "company_id": self.company_b.id})
        )
        with self.assertRaisesRegex(AccessError, "Outra.*Empresa B"):
            wizard.action_generate()
        self.assertFalse(
            self.env["rbm.api.key"].search([("company_id", "=", self.company_b.id)]),
        )
        # the company field only offers the user's companies
        domain = wizard._fields["company_id"].get_domain_list(wizard)
        allowed = self.env["res.company"].search(domain)
        self.assertIn(self.company_a, allowed)
        self.assertNotIn(self.company_b, allowed)
        # a subscription user who is not an administrator creates no key
        self.manager.groups_id = [
            Command.set(
                [
                    self.env.ref("base.group_user").id,
                    self.env.ref("rbm_metering.rbm_metering_group_user").id,
                ]
            )
        ]
        with self.assertRaisesRegex(UserError, "Only subscription administrators"):
            self.Key._generate("Mine", self.company_a)

    def test_a_key_for_another_company_gives_the_api_user_that_company(self):
        api_user = self.env.ref("rbm_metering.rbm_usage_api_user")
        self.assertNotIn(self.company_b, api_user.company_ids)
        record, _key = self.env["rbm.api.key"]._generate("B", self.company_b)
        self.assertEqual(record.company_id, self.company_b)
        self.assertIn(self.company_b, api_user.company_ids)

    def test_company_and_state_cannot_be_changed(self):
        record, key = self.Key._generate("Fixed", self.company_a)
        record.name = "Renamed"  # the name is the only thing that changes
        self.assertEqual(record.name, "Renamed")
        for vals in (
            {"company_id": self.company_b.id},
            {"company_id": False},
            {"active": False},
            {"prefix": "deadbeef"},
            {"key_hash": "0" * 64},
            {"last_used": "2027-01-01 00:00:00"},
            {"revoked_date": "2027-01-01 00:00:00"},
        ):
            with self.subTest(vals=vals), self.assertRaisesRegex(UserError, "Renamed"):
                record.write(vals)
        self.assertEqual((record.company_id, record.active), (self.company_a, True))
        # archiving is revoking; revocation is final
        record.action_archive()
        self.assertFalse(record.active)
        self.assertEqual(record.revoked_by_id, self.manager)
        with self.assertRaisesRegex(UserError, "cannot be made valid again"):
            record.write({"active": True})
        with self.assertRaisesRegex(UserError, "cannot be made valid again"):
            record.action_unarchive()
        with self.assertRaisesRegex(UserError, "revoked_date|Revoked"):
            record.write({"revoked_date": False})
        self.assertFalse(self.env["rbm.api.key"]._authenticate(key))

    def test_a_revoked_key_cannot_be_reactivated_over_rpc(self):
        record, key = self.Key._generate("RPC", self.company_a)
        record.action_revoke()
        self.authenticate("gestora", "gestora-pass-1")
        for method, args in (
            ("write", [record.ids, {"active": True}]),
            ("write", [record.ids, {"revoked_date": False, "active": True}]),
            ("write", [record.ids, {"company_id": self.company_b.id}]),
            ("action_unarchive", [record.ids]),
            ("toggle_active", [record.ids]),
        ):
            with (
                self.subTest(method=method, args=args),
                mute_logger("odoo.http"),
                self.assertRaises(JsonRpcException),
            ):
                self._call_kw("rbm.api.key", method, args)
        record.invalidate_recordset()
        self.assertEqual((record.active, record.company_id), (False, self.company_a))
        self.assertFalse(self.env["rbm.api.key"]._authenticate(key))
