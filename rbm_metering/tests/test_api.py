import hashlib
import json
from datetime import datetime, timedelta

from odoo import Command
from odoo.tests import HttpCase, tagged

URL = "/rbm/api/v1/usage"


@tagged("post_install", "-at_install")
class TestUsageApi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.metric = cls.env["rbm.metric"].create(
            {"code": "storage_gb", "name": "Storage", "unit_label": "GB"}
        )
        product = cls.env["product.product"].create(
            {"name": "Plan", "type": "service", "list_price": 100.0, "taxes_id": [Command.clear()]}
        )
        usage_product = cls.env["product.product"].create(
            {"name": "Storage", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = cls.env["rbm.plan"].create(
            {
                "name": "Metered",
                "billing_mode": "arrears",
                "line_ids": [
                    Command.create({"product_id": product.id, "price_unit": 100.0}),
                    Command.create({"product_id": usage_product.id, "metric_id": cls.metric.id}),
                ],
            }
        )
        partner = cls.env["res.partner"].create({"name": "Cliente API"})
        cls.start = datetime.now().date() - timedelta(days=10)
        cls.contract = cls.env["rbm.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "date_start": cls.start,
                "reference": "EXT-1",
            }
        )
        cls.contract.action_activate()
        _record, cls.key = cls.env["rbm.api.key"]._generate("Platform", cls.env.company)
        cls.api_key = _record

    def _post(self, body, key=None, raw=False, headers=None):
        all_headers = {"Content-Type": "application/json"}
        if key is not False:
            all_headers["Authorization"] = f"Bearer {key or self.key}"
        all_headers.update(headers or {})
        data = body if raw else json.dumps(body)
        return self.url_open(URL, data=data, headers=all_headers, timeout=60)

    def _event(self, key, quantity=1, **vals):
        return {
            "idempotency_key": key,
            "metric": "storage_gb",
            "contract_id": self.contract.id,
            "quantity": quantity,
            "timestamp": (datetime.now() - timedelta(hours=1)).isoformat() + "Z",
            **vals,
        }

    def test_auth_missing_wrong_and_revoked_key(self):
        body = {"events": [self._event("k1")]}
        response = self._post(body, key=False)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["error"]["code"], "missing_api_key")
        response = self._post(body, key=self.key[:-2] + "xx")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["error"]["code"], "invalid_api_key")
        response = self._post(body, key="garbage")
        self.assertEqual(response.status_code, 401)
        self.api_key.action_revoke()
        response = self._post(body)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["error"]["code"], "invalid_api_key")
        self.assertFalse(self.env["rbm.usage"].search([("idempotency_key", "=", "k1")]))

    def test_key_is_stored_hashed_and_records_its_use(self):
        self.assertNotIn(self.key, self.api_key.sudo().key_hash)
        self.assertTrue(self.key.startswith(f"rbm_{self.api_key.prefix}_"))
        self.assertFalse(self.api_key.last_used)
        self.assertEqual(self._post({"events": []}).status_code, 200)
        self.api_key.invalidate_recordset(["last_used"])
        self.assertTrue(self.api_key.last_used)

    def test_wizard_shows_the_key_once_and_stores_its_hash(self):
        wizard = self.env["rbm.api.key.wizard"].create({"name": "CI"})
        action = wizard.action_generate()
        self.assertEqual(action["res_model"], "rbm.api.key.show")
        key = action["context"]["default_key"]
        record = self.env["rbm.api.key"].search([("name", "=", "CI")])
        self.assertEqual(record.sudo().key_hash, hashlib.sha256(key.encode()).hexdigest())
        self.assertEqual(self.env["rbm.api.key"]._authenticate(key), record)
        record.action_revoke()
        self.assertFalse(self.env["rbm.api.key"]._authenticate(key))

    def test_key_of_another_company_does_not_see_the_contract(self):
        other = self.env["res.company"].create({"name": "Outra"})
        _record, other_key = self.env["rbm.api.key"]._generate("Other", other)
        response = self._post({"events": [self._event("x1")]}, key=other_key)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["results"][0]["reason"], "unknown_metric")
        # even with a metric of the same code, the other company's key never reaches this contract
        self.env["rbm.metric"].create(
            {"code": "storage_gb", "name": "Storage", "unit_label": "GB", "company_id": other.id}
        )
        response = self._post({"events": [self._event("x2")]}, key=other_key)
        self.assertEqual(response.json()["results"][0]["reason"], "unknown_contract")
        self.assertFalse(self.env["rbm.usage"].search([("idempotency_key", "in", ["x1", "x2"])]))

    def test_idempotent_reingestion_of_the_same_batch(self):
        body = {
            "events": [
                self._event("e1", 2),
                self._event("e2", "3.5", contract_id=None, contract_reference="EXT-1"),
                self._event("e3", metric="unknown"),
                self._event("e4", quantity="lots"),
                self._event("e5", timestamp=(datetime.now() + timedelta(days=1)).isoformat()),
            ]
        }
        body["events"][1].pop("contract_id")
        first = self._post(body)
        self.assertEqual(first.status_code, 200)
        data = first.json()
        self.assertEqual((data["accepted"], data["duplicate"], data["rejected"]), (2, 0, 3))
        self.assertEqual(
            [r.get("reason") for r in data["results"]],
            [None, None, "unknown_metric", "bad_quantity", "future_timestamp"],
        )
        again = self._post(body).json()
        self.assertEqual((again["accepted"], again["duplicate"], again["rejected"]), (0, 2, 3))
        self.assertEqual([r["status"] for r in again["results"][:2]], ["duplicate"] * 2)
        usage = self.env["rbm.usage"].search([("contract_id", "=", self.contract.id)])
        self.assertEqual(sorted(usage.mapped("quantity")), [2.0, 3.5])

    def test_bad_payloads(self):
        response = self._post("{not json", raw=True)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "invalid_json")
        response = self._post({"events": "nope"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "invalid_payload")
        response = self._post([1, 2])
        self.assertEqual(response.status_code, 400)
        response = self._post({"events": [{}] * 10001})
        self.assertEqual(response.status_code, 413)
        response = self._post("x" * (10 * 1024 * 1024 + 1), raw=True)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["error"]["code"], "body_too_large")
        response = self._post("{}", raw=True, headers={"Content-Type": "text/plain"})
        self.assertEqual(response.status_code, 415)

    def test_thousand_events_in_one_request(self):
        body = {"events": [self._event(f"bulk-{i}", i % 7) for i in range(1000)]}
        response = self._post(body)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["accepted"], 1000)
        count = self.env["rbm.usage"].search_count([("idempotency_key", "like", "bulk-")])
        self.assertEqual(count, 1000)

    def test_openapi_description(self):
        response = self.url_open("/rbm/api/v1/openapi.json")
        self.assertEqual(response.status_code, 200)
        spec = response.json()
        self.assertEqual(spec["openapi"], "3.0.3")
        self.assertIn("/rbm/api/v1/usage", spec["paths"])
