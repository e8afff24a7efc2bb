import base64
import csv

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.rbm_metering.engine import usage_input
from odoo.addons.rbm_recurring.tests.common import d

from .common import RbmMeteringCase, event


@tagged("post_install", "-at_install")
class TestIngestion(RbmMeteringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls._make_usage_plan(cls.storage, price_unit=1.0)
        cls.contract = cls._make_contract(cls.plan, d("2027-01-01"), reference="CLI-42")
        cls.other_metric = cls._make_metric("pageviews", "Pageviews", "views")

    def test_each_event_gets_its_own_answer(self):
        events = [
            event("ok", 1, "2027-01-10T00:00:00"),
            event("by-ref", 2, "2027-01-10T00:00:00", contract_reference="CLI-42"),
            event("m", 1, "2027-01-10T00:00:00", metric="nope"),
            event("c", 1, "2027-01-10T00:00:00", contract_reference="nobody"),
            event("q", "many", "2027-01-10T00:00:00"),
            event("neg", -1, "2027-01-10T00:00:00"),
            event("t", 1, "yesterday"),
            event("before", 1, "2026-12-31T23:00:00"),
            event("future", 1, "2027-01-10T13:00:00"),
            event("", 1, "2027-01-10T00:00:00"),
            event("notmine", 1, "2027-01-10T00:00:00", metric="pageviews"),
            event("props", 1, "2027-01-10T00:00:00", properties=[1]),
            event("ok", 1, "2027-01-10T00:00:00"),
            "not an object",
        ]
        payload = [
            ev
            if not isinstance(ev, dict) or "contract_reference" in ev
            else {"contract_id": self.contract.id, **ev}
            for ev in events
        ]
        with freeze_time("2027-01-10 12:00:00"):
            results = self.env["rbm.usage"]._ingest(self.env.company, payload)
        answers = [(r["status"], r.get("reason")) for r in results]
        self.assertEqual(
            answers,
            [
                ("accepted", None),
                ("accepted", None),
                ("rejected", "unknown_metric"),
                ("rejected", "unknown_contract"),
                ("rejected", "bad_quantity"),
                ("rejected", "bad_quantity"),
                ("rejected", "bad_timestamp"),
                ("rejected", "contract_not_active"),
                ("rejected", "future_timestamp"),
                ("rejected", "missing_key"),
                ("rejected", "metric_not_on_contract"),
                ("rejected", "bad_properties"),
                ("duplicate", "duplicate"),
                ("rejected", "invalid_event"),
            ],
        )
        stored = self.env["rbm.usage"].search([("contract_id", "=", self.contract.id)])
        self.assertEqual(sorted(stored.mapped("idempotency_key")), ["by-ref", "ok"])
        self.assertEqual(set(stored.mapped("source")), {"api"})

    def test_future_tolerance_is_a_parameter(self):
        self.env["ir.config_parameter"].set_param("rbm_metering.future_tolerance_minutes", "120")
        [result] = self._ingest(
            self.contract, [event("soon", 1, "2027-01-10T13:00:00")], "2027-01-10 12:00:00"
        )
        self.assertEqual(result["status"], "accepted")

    def test_contracts_of_another_company_are_unknown(self):
        other = self.env["res.company"].create({"name": "Outra Empresa"})
        self.env["rbm.metric"].create(
            {"code": "storage_gb", "name": "Storage", "company_id": other.id}
        )
        with freeze_time("2027-01-10"):
            [result] = self.env["rbm.usage"]._ingest(
                other, [event("ok", 1, "2027-01-05T00:00:00", contract_id=self.contract.id)]
            )
        # the contract is not visible from the other company
        self.assertEqual(result["reason"], "unknown_contract")

    def test_csv_import_reports_each_line(self):
        csv_text = (
            "idempotency_key;metric;contract_reference;quantity;timestamp;properties\n"
            "c1;storage_gb;CLI-42;1,5;2027-01-05T00:00:00;\n"
            'c2;storage_gb;CLI-42;2.5;2027-01-05T00:00:00;{"region": "sp"}\n'
            "c3;storage_gb;NOPE;1;2027-01-05T00:00:00;\n"
            "c2;storage_gb;CLI-42;2.5;2027-01-05T00:00:00;\n"
        )
        wizard = self.env["rbm.usage.import.wizard"].create(
            {"file": base64.b64encode(csv_text.encode())}
        )
        with freeze_time("2027-01-10"):
            wizard.action_import()
        self.assertEqual(
            (wizard.accepted_count, wizard.duplicate_count, wizard.rejected_count), (1, 1, 2)
        )
        self.assertIn("<td>2</td><td>c1</td><td>rejected</td>", wizard.report)
        self.assertIn("<td>4</td><td>c3</td><td>rejected</td><td>unknown contract", wizard.report)
        self.assertIn("<td>5</td><td>c2</td><td>duplicate", wizard.report)
        usage = self.env["rbm.usage"].search([("idempotency_key", "=", "c2")])
        self.assertEqual(
            (usage.quantity, usage.properties, usage.source), (2.5, {"region": "sp"}, "csv")
        )

    def _import(self, csv_text, user=None, **vals):
        wizard = (
            self.env["rbm.usage.import.wizard"]
            .with_user(user or self.env.user)
            .create({"file": base64.b64encode(csv_text.encode()), "filename": "uso.csv", **vals})
        )
        with freeze_time("2027-01-10"):
            wizard.action_import()
        return wizard

    def test_csv_rows_get_the_bounds_and_reasons_of_the_api(self):
        header = ",".join(usage_input.FIELDS)
        rows = [
            "ok-1,storage_gb,,CLI-42,1000000000000,2027-01-05T00:00:00,",
            "nan,storage_gb,,CLI-42,NaN,2027-01-05T00:00:00,",
            "inf,storage_gb,,CLI-42,Infinity,2027-01-05T00:00:00,",
            "neg,storage_gb,,CLI-42,-1,2027-01-05T00:00:00,",
            "big,storage_gb,,CLI-42,1000000000001,2027-01-05T00:00:00,",
            "id-text,storage_gb,true,,1,2027-01-05T00:00:00,",
            "id-digit,storage_gb,²,,1,2027-01-05T00:00:00,",
            "id-huge,storage_gb,99999999999999999999,,1,2027-01-05T00:00:00,",
            "old,storage_gb,,CLI-42,1,1999-12-31T23:59:59Z,",
            'p-nan,storage_gb,,CLI-42,1,2027-01-05T00:00:00,"{""a"": NaN}"',
            'p-nul,storage_gb,,CLI-42,1,2027-01-05T00:00:00,"{""a"": ""\\u0000""}"',
            'p-sur,storage_gb,,CLI-42,1,2027-01-05T00:00:00,"{""\\ud800"": 1}"',
            "p-deep,storage_gb,,CLI-42,1,2027-01-05T00:00:00," + "[" * 5000 + "]" * 5000,
            'p-int,storage_gb,,CLI-42,1,2027-01-05T00:00:00,"{""a"": ' + "1" * 5000 + '}"',
            "k" * 256 + ",storage_gb,,CLI-42,1,2027-01-05T00:00:00,",
            "nul\x00,storage_gb,,CLI-42,1,2027-01-05T00:00:00,",
            f"ok-2,storage_gb,{self.contract.id},,0.5,2027-01-05T00:00:00,",
        ]
        wizard = self._import("\n".join([header, *rows]) + "\n")
        self.assertEqual(
            (wizard.accepted_count, wizard.duplicate_count, wizard.rejected_count), (2, 0, 15)
        )
        messages = self.env["rbm.usage"]._get_reason_messages()
        expected = [
            (3, "nan", "bad_quantity"),
            (4, "inf", "bad_quantity"),
            (5, "neg", "bad_quantity"),
            (6, "big", "bad_quantity"),
            (7, "id-text", "bad_contract"),
            (8, "id-digit", "bad_contract"),
            (9, "id-huge", "bad_contract"),
            (10, "old", "bad_timestamp"),
            (11, "p-nan", "bad_properties"),
            (12, "p-nul", "bad_properties"),
            (13, "p-sur", "bad_properties"),
            (14, "p-deep", "bad_properties"),
            (15, "p-int", "bad_properties"),
            (16, "", "bad_key"),
            (17, "", "bad_key"),
        ]
        for line, key, reason in expected:
            self.assertIn(
                f"<tr><td>{line}</td><td>{key}</td><td>rejected</td><td>{messages[reason]}",
                wizard.report,
            )
        stored = self.env["rbm.usage"].search([("contract_id", "=", self.contract.id)])
        self.assertEqual(
            sorted(stored.mapped(lambda u: (u.idempotency_key, u.quantity))),
            [("ok-1", 1e12), ("ok-2", 0.5)],
        )

    def test_csv_file_of_more_than_ten_thousand_rows_is_refused(self):
        header = "idempotency_key,metric,contract_reference,quantity,timestamp\n"
        row = "r{},storage_gb,CLI-42,1,2027-01-05T00:00:00\n"
        with self.assertRaisesRegex(UserError, "uso.csv has more than 10000 rows"):
            self._import(header + "".join(row.format(i) for i in range(10001)))
        self.assertFalse(self.env["rbm.usage"].search([("contract_id", "=", self.contract.id)]))
        wizard = self._import(header + "".join(row.format(i) for i in range(10000)))
        self.assertEqual(wizard.accepted_count, 10000)

    def test_csv_file_that_csv_cannot_read_names_the_line(self):
        header = "idempotency_key,metric,contract_reference,quantity,timestamp\n"
        text = header + 'ok,storage_gb,CLI-42,1,2027-01-05T00:00:00\nx,"' + "y" * 200000 + '"\n'
        limit = csv.field_size_limit(100000)
        self.addCleanup(csv.field_size_limit, limit)
        with self.assertRaisesRegex(UserError, "uso.csv cannot be read at line 3"):
            self._import(text)

    def test_csv_import_only_into_companies_the_user_may_access(self):
        other = self.env["res.company"].create({"name": "Empresa Vizinha"})
        user = self.env["res.users"].create(
            {
                "name": "Operadora",
                "login": "operadora",
                "company_id": self.env.company.id,
                "company_ids": [Command.set(self.env.company.ids)],
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("rbm_metering.rbm_metering_group_user").id,
                        ]
                    )
                ],
            }
        )
        text = "idempotency_key,metric,contract_id,quantity\nx,storage_gb,1,1\n"
        with self.assertRaisesRegex(AccessError, "uso.csv.*Empresa Vizinha"):
            self._import(text, user=user, company_id=other.id)
        wizard = self._import(
            "idempotency_key,metric,contract_reference,quantity,timestamp\n"
            "mine,storage_gb,CLI-42,2,2027-01-05T00:00:00\n",
            user=user,
        )
        self.assertEqual(wizard.accepted_count, 1)
        usage = self.env["rbm.usage"].search([("idempotency_key", "=", "mine")])
        self.assertEqual((usage.create_uid, usage.source), (user, "csv"))

    def test_manual_entry_follows_the_same_rules(self):
        with freeze_time("2027-01-10"):
            usage = self.env["rbm.usage"].create(
                {
                    "contract_id": self.contract.id,
                    "metric_id": self.storage.id,
                    "quantity": 4,
                    "timestamp": "2027-01-09 10:00:00",
                }
            )
            self.assertTrue(usage.idempotency_key)
            self.assertEqual(usage.effective_timestamp, usage.timestamp)
            with self.assertRaisesRegex(ValidationError, "not active at that time"):
                self.env["rbm.usage"].create(
                    {
                        "contract_id": self.contract.id,
                        "metric_id": self.storage.id,
                        "quantity": 4,
                        "timestamp": "2026-12-01 10:00:00",
                    }
                )
        move = self._bill(self.contract, d("2027-02-01"))["moves"]
        self.assertEqual(self._usage_line(move).price_unit, 4.0)
        with self.assertRaises(ValidationError):
            usage.quantity = 5
