import base64

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

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
