import hashlib
import json
import re
from datetime import datetime, timedelta

from odoo import Command
from odoo.tests import HttpCase, tagged

from odoo.addons.rbm_metering.engine import usage_input

URL = "/rbm/api/v1/usage"
MISSING = object()  # the member is left out of the event
NAN, INF = float("nan"), float("inf")
# written as is into the body, in place of the string "RAW:<n>"
RAW = {"huge_int": "1" * 5000, "huge_negative": "-" + "9" * 5000}


def nested(levels):
    """Properties nested ``levels`` levels (the object is level 1)."""
    value = 1
    for _level in range(levels - 1):
        value = [value]
    return {"a": value}


# (field, value, expected reason) of one malformed event; MISSING: left out.
# By hand, from the bounds the README and the OpenAPI description state.
MALFORMED = [
    # idempotency_key: required, a string of 1 to 255 characters
    ("idempotency_key", MISSING, "missing_key"),
    ("idempotency_key", None, "missing_key"),
    ("idempotency_key", "", "missing_key"),
    ("idempotency_key", 42, "bad_key"),
    ("idempotency_key", 4.2, "bad_key"),
    ("idempotency_key", True, "bad_key"),
    ("idempotency_key", ["k"], "bad_key"),
    ("idempotency_key", {"k": 1}, "bad_key"),
    ("idempotency_key", "k" * 256, "bad_key"),
    ("idempotency_key", "a\x00b", "bad_key"),
    ("idempotency_key", "a\ud800b", "bad_key"),
    ("idempotency_key", "\udfff", "bad_key"),
    ("idempotency_key", "RAW:huge_int", "bad_key"),
    # metric: required, a code of 1 to 255 characters
    ("metric", MISSING, "missing_metric"),
    ("metric", None, "missing_metric"),
    ("metric", "", "missing_metric"),
    ("metric", 7, "bad_metric"),
    ("metric", False, "bad_metric"),
    ("metric", ["storage_gb"], "bad_metric"),
    ("metric", {"code": "storage_gb"}, "bad_metric"),
    ("metric", "m" * 256, "bad_metric"),
    ("metric", "storage\x00gb", "bad_metric"),
    ("metric", "storage_gb\ud800", "bad_metric"),
    ("metric", "nope", "unknown_metric"),
    # contract_id: an integer from 1 to 2**31 - 1 (a boolean is not one)
    ("contract_id", True, "bad_contract"),
    ("contract_id", False, "bad_contract"),
    ("contract_id", "CONTRACT_ID_TEXT", "bad_contract"),
    ("contract_id", "CONTRACT_ID_FLOAT", "bad_contract"),
    ("contract_id", 0, "bad_contract"),
    ("contract_id", -1, "bad_contract"),
    ("contract_id", 2**31, "bad_contract"),
    ("contract_id", 10**30, "bad_contract"),
    ("contract_id", "RAW:huge_int", "bad_contract"),
    ("contract_id", NAN, "bad_contract"),
    ("contract_id", ["CONTRACT_ID"], "bad_contract"),
    ("contract_id", {"id": 1}, "bad_contract"),
    ("contract_id", 2**31 - 1, "unknown_contract"),
    ("contract_id", MISSING, "missing_contract"),
    ("contract_id", None, "missing_contract"),
    # contract_reference (instead of contract_id): a string of 1 to 255 characters
    ("contract_reference", MISSING, "missing_contract"),
    ("contract_reference", None, "missing_contract"),
    ("contract_reference", "", "missing_contract"),
    ("contract_reference", 5, "bad_contract"),
    ("contract_reference", True, "bad_contract"),
    ("contract_reference", ["EXT-1"], "bad_contract"),
    ("contract_reference", {"ref": "EXT-1"}, "bad_contract"),
    ("contract_reference", "r" * 256, "bad_contract"),
    ("contract_reference", "EXT-1\x00", "bad_contract"),
    ("contract_reference", "EXT-1\ud800", "bad_contract"),
    ("contract_reference", "nobody", "unknown_contract"),
    # beside a valid contract_id, a contract_reference must still be valid
    ("contract_reference_with_id", 5, "bad_contract"),
    # quantity: default 1; a number or a decimal string from 0 to 10**12
    ("quantity", NAN, "bad_quantity"),
    ("quantity", INF, "bad_quantity"),
    ("quantity", -INF, "bad_quantity"),
    ("quantity", -1, "bad_quantity"),
    ("quantity", -0.5, "bad_quantity"),
    ("quantity", 10**12 + 1, "bad_quantity"),
    ("quantity", 1.0000001e12, "bad_quantity"),
    ("quantity", 1e300, "bad_quantity"),
    ("quantity", "RAW:huge_int", "bad_quantity"),
    ("quantity", "RAW:huge_negative", "bad_quantity"),
    ("quantity", True, "bad_quantity"),
    ("quantity", False, "bad_quantity"),
    ("quantity", None, "bad_quantity"),
    ("quantity", [1], "bad_quantity"),
    ("quantity", {"value": 1}, "bad_quantity"),
    ("quantity", "", "bad_quantity"),
    ("quantity", "lots", "bad_quantity"),
    ("quantity", "NaN", "bad_quantity"),
    ("quantity", "Infinity", "bad_quantity"),
    ("quantity", "-1", "bad_quantity"),
    ("quantity", "1e13", "bad_quantity"),
    ("quantity", "1,5", "bad_quantity"),
    ("quantity", " 1", "bad_quantity"),
    ("quantity", "1e-70", "bad_quantity"),
    ("quantity", "1" + "0" * 64, "bad_quantity"),
    ("quantity", "1\x00", "bad_quantity"),
    ("quantity", "1\ud800", "bad_quantity"),
    # timestamp: ISO 8601 text, from 2000-01-01T00:00:00Z to now + 5 minutes
    ("timestamp", 1767225600, "bad_timestamp"),
    ("timestamp", True, "bad_timestamp"),
    ("timestamp", ["2027-01-01T00:00:00Z"], "bad_timestamp"),
    ("timestamp", {"at": "2027-01-01"}, "bad_timestamp"),
    ("timestamp", "yesterday", "bad_timestamp"),
    ("timestamp", "1999-12-31T23:59:59Z", "bad_timestamp"),
    ("timestamp", "0001-01-01T00:00:00+01:00", "bad_timestamp"),
    ("timestamp", "9999-12-31T23:59:59-01:00", "bad_timestamp"),
    ("timestamp", "2027-01-01T00:00:00\x00", "bad_timestamp"),
    ("timestamp", "2027-01-01T00:00:00\ud800", "bad_timestamp"),
    ("timestamp", "2027-01-01T00:00:00" + " " * 60, "bad_timestamp"),
    ("timestamp", "9999-12-31T00:00:00Z", "future_timestamp"),
    ("timestamp", "2000-01-01T00:00:00Z", "contract_not_active"),
    # properties: an object, 16384 bytes, 8 levels, finite numbers, clean strings
    ("properties", [1], "bad_properties"),
    ("properties", "region=sp", "bad_properties"),
    ("properties", 5, "bad_properties"),
    ("properties", True, "bad_properties"),
    ("properties", {"a": NAN}, "bad_properties"),
    ("properties", {"a": [1, INF]}, "bad_properties"),
    ("properties", {"a": "RAW:huge_int"}, "bad_properties"),
    ("properties", {"a": "x\x00"}, "bad_properties"),
    ("properties", {"a\x00": 1}, "bad_properties"),
    ("properties", {"\ud800": 1}, "bad_properties"),
    ("properties", {"a": {"b": "\udbff"}}, "bad_properties"),
    ("properties", nested(9), "bad_properties"),
    ("properties", {"a": "x" * (16384 - 8 + 1)}, "bad_properties"),
    ("properties", {"a": "é" * 8189}, "bad_properties"),
]
# the event itself is not an object
NOT_OBJECTS = ["event", 5, 1.5, True, None, [], [{"idempotency_key": "x"}]]


@tagged("post_install", "-at_install")
class TestUsageApi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.metric = cls.env["rbm.metric"].create(
            {"code": "storage_gb", "name": "Storage", "unit_label": "GB"}
        )
        cls.plan_product = product = cls.env["product.product"].create(
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
        if not raw:
            for name, text in RAW.items():
                data = data.replace(f'"RAW:{name}"', text)
        return self.url_open(URL, data=data, headers=all_headers, timeout=60)

    def _malformed(self, field, value, index):
        """The event of MALFORMED[index]: a valid event with ``field`` set to ``value``."""
        bad = self._event(f"bad-{index}")
        if field == "contract_reference":
            bad.pop("contract_id")
        if field == "contract_reference_with_id":
            field = "contract_reference"
        if value == "CONTRACT_ID_TEXT":
            value = str(self.contract.id)
        elif value == "CONTRACT_ID_FLOAT":
            value = float(self.contract.id)
        elif value == ["CONTRACT_ID"]:
            value = [self.contract.id]
        if value is MISSING:
            bad.pop(field, None)
        else:
            bad[field] = value
        return bad

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

    # ------------------------------------------------------------ malformed events

    def _stored_keys(self, keys):
        usage = self.env["rbm.usage"].search([("idempotency_key", "in", keys)])
        return set(usage.mapped("idempotency_key"))

    def test_each_malformed_event_is_rejected_alone(self):
        field_words = {
            "key": "idempotency_key",
            "metric": "metric",
            "contract": "contract",
            "quantity": "quantity",
            "timestamp": "timestamp",
            "properties": "properties",
        }
        for index, (field, value, reason) in enumerate(MALFORMED):
            with self.subTest(field=field, value=repr(value)[:40], reason=reason):
                ok = [self._event(f"ok-{index}-a", 2), self._event(f"ok-{index}-b", 3)]
                bad = self._malformed(field, value, index)
                response = self._post({"events": [ok[0], bad, ok[1]]})
                self.assertEqual(response.status_code, 200, response.text[:300])
                data = response.json()
                self.assertEqual((data["accepted"], data["rejected"]), (2, 1))
                first, result, last = data["results"]
                self.assertEqual((first["status"], last["status"]), ("accepted", "accepted"))
                self.assertEqual(
                    (result["index"], result["status"], result["reason"]), (1, "rejected", reason)
                )
                key_is_bad = field == "idempotency_key"
                self.assertEqual(result["idempotency_key"], None if key_is_bad else f"bad-{index}")
                word = reason.split("_", 1)[1]
                if reason.startswith(("bad_", "missing_")):
                    self.assertIn(field_words[word], result["message"])
                self.assertEqual(
                    self._stored_keys([f"ok-{index}-a", f"ok-{index}-b", f"bad-{index}"]),
                    {f"ok-{index}-a", f"ok-{index}-b"},
                )

    def test_events_that_are_not_objects_are_rejected_alone(self):
        events = [self._event("obj-a"), *NOT_OBJECTS, self._event("obj-b")]
        data = self._post({"events": events}).json()
        self.assertEqual((data["accepted"], data["rejected"]), (2, len(NOT_OBJECTS)))
        self.assertEqual(
            [(r["status"], r.get("reason"), r["idempotency_key"]) for r in data["results"]],
            [("accepted", None, "obj-a")]
            + [("rejected", "invalid_event", None)] * len(NOT_OBJECTS)
            + [("accepted", None, "obj-b")],
        )
        self.assertEqual(self._stored_keys(["obj-a", "obj-b"]), {"obj-a", "obj-b"})

    def test_values_at_the_bounds_are_accepted(self):
        stamp = (datetime.now() - timedelta(hours=1)).isoformat() + "Z"
        events = [
            self._event("k" * 255, 1),
            self._event("max-int", 10**12),
            self._event("max-float", 1e12),
            self._event("max-text", "1e12"),
            self._event("long-text", "0" * 63 + "1"),
            self._event("zero", 0),
            self._event("no-quantity", quantity=MISSING),
            self._event("null-stamp", timestamp=None),
            self._event("padded-stamp", timestamp=stamp.ljust(64)),
            self._event("props-size", properties={"a": "x" * (16384 - 8)}),
            self._event("props-depth", properties=nested(8)),
            self._event("props-unicode", properties={"região": "São Paulo 😀", "n": -(10**99)}),
            self._event("both", contract_reference="EXT-1"),
            self._event("unicode-é😀", 1),
        ]
        for event in events:
            if event["quantity"] is MISSING:
                del event["quantity"]
        response = self._post({"events": events})
        data = response.json()
        self.assertEqual(
            [r.get("reason") for r in data["results"]], [None] * len(events), response.text
        )
        usage = self.env["rbm.usage"].search([("contract_id", "=", self.contract.id)])
        by_key = {u.idempotency_key: u for u in usage}
        self.assertEqual(len(by_key), len(events))
        self.assertEqual(by_key["max-int"].quantity, 1e12)
        self.assertEqual(by_key["max-text"].quantity, 1e12)
        self.assertEqual(by_key["no-quantity"].quantity, 1.0)
        self.assertEqual(by_key["long-text"].quantity, 1.0)
        self.assertEqual(by_key["props-unicode"].properties["região"], "São Paulo 😀")
        self.assertEqual(data["results"][-1]["idempotency_key"], "unicode-é😀")

    def test_a_body_nested_too_deeply_is_refused(self):
        body = '{"events": [' + "[" * 100000 + "]" * 100000 + "]}"
        response = self._post(body, raw=True)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "too_deep")
        response = self._post(b'{"events": ["\xff"]}', raw=True)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "invalid_json")

    def test_usage_is_stored_as_the_api_user_with_its_key(self):
        response = self._post({"events": [self._event("who")]})
        self.assertEqual(response.json()["accepted"], 1)
        usage = self.env["rbm.usage"].search([("idempotency_key", "=", "who")])
        api_user = self.env.ref("rbm_metering.rbm_usage_api_user")
        self.assertEqual(usage.create_uid, api_user)
        self.assertNotEqual(usage.create_uid, self.api_key.create_uid)
        self.assertEqual(usage.api_key_id, self.api_key)
        self.assertEqual(usage.source, "api")
        # a technical user: no administrator, no internal user, cannot log in
        self.assertFalse(api_user.active)
        self.assertTrue(api_user.share)
        self.assertFalse(api_user._is_admin())
        self.assertFalse(api_user.has_group("base.group_user"))
        self.assertFalse(api_user.has_group("rbm_recurring.rbm_recurring_group_user"))
        self.assertEqual(
            api_user.groups_id, self.env.ref("rbm_metering.rbm_metering_group_usage_api")
        )
        Usage = self.env["rbm.usage"].with_user(api_user)
        self.assertTrue(Usage.has_access("create"))
        self.assertFalse(Usage.has_access("write"))
        self.assertFalse(self.env["rbm.contract"].with_user(api_user).has_access("read"))
        self.assertFalse(self.env["rbm.api.key"].with_user(api_user).has_access("read"))

    # ------------------------------------------------------------ OpenAPI

    def test_openapi_description(self):
        response = self.url_open("/rbm/api/v1/openapi.json")
        self.assertEqual(response.status_code, 200)
        spec = response.json()
        self.assertEqual(spec["openapi"], "3.0.3")
        self.assertIn("/rbm/api/v1/usage", spec["paths"])

    def _closed_period_event(self):
        """An event dated in the first period, already invoiced, of a contract
        whose metric rejects late events."""
        metric = self.env["rbm.metric"].create(
            {"code": "calls", "name": "Calls", "unit_label": "calls", "late_policy": "reject"}
        )
        usage_product = self.env["product.product"].create(
            {"name": "Calls", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = self.env["rbm.plan"].create(
            {
                "name": "Calls",
                "billing_mode": "arrears",
                "line_ids": [
                    Command.create({"product_id": self.plan_product.id, "price_unit": 100.0}),
                    Command.create({"product_id": usage_product.id, "metric_id": metric.id}),
                ],
            }
        )
        start = datetime.now().date() - timedelta(days=70)
        contract = self.env["rbm.contract"].create(
            {"partner_id": self.contract.partner_id.id, "plan_id": plan.id, "date_start": start}
        )
        contract.action_activate()
        contract.env["rbm.billing.run"]._bill(contract, datetime.now().date())
        self.assertGreater(contract.next_period_start, start + timedelta(days=2))
        stamp = datetime.combine(start + timedelta(days=1), datetime.min.time()).isoformat()
        return self._event("late", metric="calls", contract_id=contract.id, timestamp=stamp)

    def test_openapi_matches_the_server(self):
        spec = self.url_open("/rbm/api/v1/openapi.json").json()
        event = spec["components"]["schemas"]["Event"]
        props = event["properties"]

        def reasons_of(*events):
            data = self._post({"events": list(events)}).json()
            return [r.get("reason") for r in data["results"]]

        # every reason the server can answer is in the enum, and nothing else
        enum = spec["components"]["schemas"]["Result"]["properties"]["reason"]["enum"]
        self.assertEqual(len(enum), len(set(enum)))
        answered = {reason for _field, _value, reason in MALFORMED} | {"invalid_event"}
        other_metric = self.env["rbm.metric"].create(
            {"code": "other", "name": "Other", "unit_label": "u"}
        )
        answered |= set(
            reasons_of(
                self._event("dup"),
                self._event("dup"),
                self._event("not-on-contract", metric=other_metric.code),
                self._closed_period_event(),
            )
        )
        answered.discard(None)
        self.assertEqual(set(enum), answered)
        self.assertEqual(set(enum), set(self.env["rbm.usage"]._get_reason_messages()))

        # every required member is required; every other one may be left out
        self.assertEqual(event["required"], ["idempotency_key", "metric"])
        for field in event["required"]:
            bad = self._event(f"req-{field}")
            del bad[field]
            self.assertEqual(reasons_of(bad), [f"missing_{field.split('_')[-1]}"], field)
        contract_members = [alt["required"][0] for alt in event["anyOf"]]
        self.assertEqual(contract_members, ["contract_id", "contract_reference"])
        bad = self._event("req-contract")
        del bad["contract_id"]
        self.assertEqual(reasons_of(bad), ["missing_contract"])
        by_reference = self._event("opt-reference", contract_reference="EXT-1")
        del by_reference["contract_id"]
        self.assertEqual(reasons_of(by_reference), [None])
        for field in set(props) - set(event["required"]) - set(contract_members):
            optional = self._event(f"opt-{field}")
            optional.pop(field, None)
            self.assertEqual(reasons_of(optional), [None], field)

        # the bounds stated are the bounds applied
        stamp = (datetime.now() - timedelta(hours=1)).isoformat() + "Z"
        at_bound = {
            "idempotency_key": ("k" * props["idempotency_key"]["maxLength"], None),
            "metric": ("m" * props["metric"]["maxLength"], "unknown_metric"),
            "contract_reference": ("r" * props["contract_reference"]["maxLength"], None),
            "timestamp": (stamp.ljust(props["timestamp"]["maxLength"]), None),
        }
        for field, (value, reason) in at_bound.items():
            good, bad = self._event(f"len-{field}"), self._event(f"len+1-{field}")
            if field == "contract_reference":
                del good["contract_id"], bad["contract_id"]
                reason = "unknown_contract"
            good[field], bad[field] = value, value + " "
            if field == "idempotency_key":
                bad[field] = value + "k"
            answer = reasons_of(good, bad)
            self.assertEqual(answer[0], reason, field)
            self.assertTrue(answer[1].startswith("bad_"), (field, answer))
        self.assertEqual(props["idempotency_key"]["minLength"], 1)
        contract_id = props["contract_id"]
        self.assertEqual(
            reasons_of(
                self._event("id-max", contract_id=contract_id["maximum"]),
                self._event("id-max+1", contract_id=contract_id["maximum"] + 1),
                self._event("id-min-1", contract_id=contract_id["minimum"] - 1),
            ),
            ["unknown_contract", "bad_contract", "bad_contract"],
        )
        number, text = props["quantity"]["oneOf"]
        self.assertEqual((number["minimum"], number["maximum"]), (0, 10**12))
        self.assertEqual(
            reasons_of(
                self._event("q-max", number["maximum"]),
                self._event("q-max+", number["maximum"] + 0.001),
                self._event("q-min", number["minimum"]),
                self._event("q-min-", number["minimum"] - 0.001),
                self._event("q-text", "1".zfill(text["maxLength"])),
                self._event("q-text+", "1".zfill(text["maxLength"] + 1)),
            ),
            [None, "bad_quantity", None, "bad_quantity", None, "bad_quantity"],
        )
        # the pattern of a quantity string is the server's
        samples = ["1", "1.5", ".5", "5.", "+2", "1e3", "2E-3", "-1", " 1", "1_000", "0x10"]
        samples += ["NaN", "Infinity", "1,5", "", "e3", "1e", "1.2.3", "١"]
        for index, sample in enumerate(samples):
            accepted = reasons_of(self._event(f"pattern-{index}", sample)) == [None]
            matches = re.search(text["pattern"], sample) is not None
            self.assertEqual(accepted, matches, sample)
        properties = props["properties"]
        size, depth = properties["x-maxBytes"], properties["x-maxDepth"]
        self.assertEqual(
            reasons_of(
                self._event("p-size", properties={"a": "x" * (size - 8)}),
                self._event("p-size+1", properties={"a": "x" * (size - 7)}),
                self._event("p-depth", properties=nested(depth)),
                self._event("p-depth+1", properties=nested(depth + 1)),
            ),
            [None, "bad_properties", None, "bad_properties"],
        )
        self.assertEqual(
            reasons_of(
                self._event("t-min", timestamp="2000-01-01T00:00:00Z"),
                self._event("t-min-1", timestamp="1999-12-31T23:59:59.999999Z"),
            ),
            ["contract_not_active", "bad_timestamp"],
        )
        self.assertIn("2000-01-01T00:00:00Z", props["timestamp"]["description"])

        # every error answer is described, with its status and code
        post = spec["paths"]["/rbm/api/v1/usage"]["post"]
        self.assertEqual(
            post["requestBody"]["content"]["application/json"]["schema"]["properties"]["events"][
                "maxItems"
            ],
            usage_input.MAX_BATCH,
        )
        huge = "x" * (10 * 1024 * 1024 + 1)
        answers = [
            self._post({"events": []}, key=False),
            self._post({"events": []}, key="rbm_00000000_wrong"),
            self._post(huge, raw=True),
            self._post({"events": [{}] * (usage_input.MAX_BATCH + 1)}),
            self._post("{}", raw=True, headers={"Content-Type": "text/plain"}),
            self._post("{not json", raw=True),
            self._post('{"events": ' + "[" * 100000 + "]" * 100000 + "}", raw=True),
            self._post({"events": {}}),
        ]
        codes = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
        triggered = set()
        for response in answers:
            code = response.json()["error"]["code"]
            triggered.add(code)
            described = post["responses"][str(response.status_code)]["content"]
            schema = described["application/json"]["schema"]["allOf"][1]
            self.assertIn(code, schema["properties"]["error"]["properties"]["code"]["enum"])
        self.assertEqual(triggered, set(codes["code"]["enum"]))
