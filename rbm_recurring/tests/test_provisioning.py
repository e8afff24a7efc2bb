import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch
from urllib.parse import urlparse

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import _super_send

from .common import RbmBillingCase, d

T0 = datetime(2026, 3, 2, 10, 0, 0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client gave up (timeout test): nothing to report


class _Receiver(BaseHTTPRequestHandler):
    """Records every POST; answers as ``server.mode`` says: ``ok`` (200),
    ``error`` (500) or ``hang`` (no answer until the test ends)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(
            {
                "path": self.path,
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body": body,
            }
        )
        if self.server.mode == "hang":
            self.server.release.wait(10)
        status = 500 if self.server.mode in ("error", "big") else 200
        answer = b"boom" if status == 500 else b"ok"
        if self.server.mode == "big":  # 1 MB of error page
            answer = b"<html>" + b"x" * (1024 * 1024) + b"</html>"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        try:
            self.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading

    def log_message(self, format, *args):  # noqa: A002 - keep the test log quiet
        pass


@tagged("post_install", "-at_install")
class TestProvisioning(RbmBillingCase):
    """Contract events queued in the outbox and POSTed, signed, to a real HTTP
    server running in the test; failures retried with back-off, then dead."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = _Server(("127.0.0.1", 0), _Receiver)
        cls.server.received = []
        cls.server.mode = "ok"
        cls.server.release = threading.Event()
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls._stop_server)
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}/rbm/events"
        # the test server is local and has no TLS: the outbound guard must let it through
        cls.env["ir.config_parameter"].sudo().set_param(
            "rbm_recurring.outbound_allowed_networks", "127.0.0.0/8"
        )
        cls.env["ir.config_parameter"].sudo().set_param("rbm_recurring.outbound_allow_http", "1")

        cls.Event = cls.env["rbm.provisioning.event"]
        cls.Endpoint = cls.env["rbm.provisioning.endpoint"]
        cls.cron = cls.env.ref("rbm_recurring.ir_cron_rbm_provisioning_deliver")
        cls.product_plan.default_code = "PRO-M"
        cls.plan = cls._make_plan(name="Pro", code="PRO")
        cls.other_plan = cls._make_plan(name="Basic", code="BASIC")
        cls.customer_a.vat = "12.345.678/0001-95"
        cls.contract = cls._make_contract(cls.plan, d("2026-01-01"), reference="CUST-42")

    @classmethod
    def _stop_server(cls):
        cls.server.release.set()
        cls.server.shutdown()
        cls.server.server_close()

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # the test runner raises every timeout under 10 s to 10 s; the timeout
        # test needs the endpoint's own
        if urlparse(r.url).hostname == "127.0.0.1":
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        self.server.received.clear()
        self.server.mode = "ok"

    def _endpoint(self, **vals):
        return self.Endpoint.create({"name": "Panel", "url": self.url, **vals})

    def _closed_port_url(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}/gone"

    # ------------------------------------------------------------
    # EMITTING
    # ------------------------------------------------------------

    def test_emit_queues_snapshot(self):
        endpoint = self._endpoint()
        with freeze_time(T0):
            event = self.Event._emit(self.contract, "activated")
        self.assertEqual(len(event), 1)
        self.assertRecordValues(
            event,
            [
                {
                    "endpoint_id": endpoint.id,
                    "contract_id": self.contract.id,
                    "event_type": "activated",
                    "state": "pending",
                    "tries": 0,
                    "next_try_at": T0,
                }
            ],
        )
        self.assertFalse(self.server.received, "emitting never sends anything itself")
        payload = json.loads(event.payload)
        self.assertEqual(payload["id"], event.id)
        self.assertEqual(payload["event"], "activated")
        self.assertEqual(payload["occurred_at"], "2026-03-02T10:00:00Z")
        self.assertEqual(
            payload["contract"],
            {
                "id": self.contract.id,
                "name": self.contract.name,
                "reference": "CUST-42",
                "date_start": "2026-01-01",
                "date_end": None,
            },
        )
        self.assertEqual(payload["state"], self.contract.state)
        self.assertEqual(
            payload["customer"],
            {
                "id": self.customer_a.id,
                "name": "Padaria Alfa",
                "vat": "12.345.678/0001-95",
                "email": "a@example.com",
            },
        )
        self.assertEqual(payload["plan"], {"id": self.plan.id, "name": "Pro", "code": "PRO"})
        self.assertEqual(
            payload["lines"],
            [
                {
                    "product": {
                        "id": self.product_plan.id,
                        "default_code": "PRO-M",
                        "name": "Plan Pro",
                    },
                    "quantity": 1.0,
                    "price_unit": 100.0,
                    "line_type": "recurring",
                }
            ],
        )
        # a snapshot: later changes of the contract do not alter the event
        self.contract.line_ids.quantity = 5
        self.assertEqual(json.loads(event.payload)["lines"][0]["quantity"], 1.0)

    def test_emit_unknown_event_type(self):
        self._endpoint()
        with self.assertRaises(ValueError):
            self.Event._emit(self.contract, "exploded")

    def test_contract_suspension_emits(self):
        endpoint = self._endpoint()
        self.contract.action_suspend()
        event = self.Event.search([("contract_id", "=", self.contract.id)])
        self.assertEqual(event.endpoint_id, endpoint)
        self.assertEqual(event.event_type, "suspended")
        self.assertEqual(json.loads(event.payload)["state"], "suspended")

    def test_endpoint_filters(self):
        all_events = self._endpoint(name="All")
        by_plan = self._endpoint(name="Pro plan", plan_ids=[Command.set(self.plan.ids)])
        other_plan = self._endpoint(name="Basic plan", plan_ids=[Command.set(self.other_plan.ids)])
        by_product = self._endpoint(name="Seats", product_ids=[Command.set(self.product_seat.ids)])
        by_type = self._endpoint(name="Suspensions", event_types="suspended, cancelled")
        self._endpoint(name="Archived", active=False)
        other_company = self.env["res.company"].create({"name": "Outra Empresa Ltda"})
        self._endpoint(name="Other company", company_id=other_company.id)

        events = self.Event._emit(self.contract, "activated")
        self.assertEqual(events.endpoint_id, all_events | by_plan)

        events = self.Event._emit(self.contract, "suspended")
        self.assertEqual(events.endpoint_id, all_events | by_plan | by_type)

        # a contract selling the product reaches the product's endpoint
        self.contract.line_ids = [
            Command.create({"product_id": self.product_seat.id, "quantity": 2})
        ]
        events = self.Event._emit(self.contract, "activated")
        self.assertEqual(events.endpoint_id, all_events | by_plan | by_product)

        # a plan change also reaches the endpoints of the plan left, which can
        # then deprovision
        before = {self.contract.id: self.Event._prepare_contract_snapshot(self.contract)}
        self.contract.plan_id = self.other_plan
        events = self.Event._emit(self.contract, "plan_changed", previous=before)
        self.assertEqual(events.endpoint_id, all_events | by_plan | other_plan | by_product)
        payload = json.loads(events[0].payload)
        self.assertEqual(payload["plan"]["code"], "BASIC")
        self.assertEqual(payload["previous"]["plan"]["code"], "PRO")

    def test_endpoint_validation(self):
        for url in ("ftp://panel.example.com/hook", "panel.example.com/hook", "https://"):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                self._endpoint(url=url)
        with self.assertRaises(ValidationError):
            self._endpoint(event_types="activated,exploded")
        endpoint = self._endpoint(url="https://panel.example.com/hook")
        self.assertRegex(endpoint.secret, r"^[0-9a-f]{64}$")
        self.assertNotEqual(endpoint.secret, self._endpoint().secret)
        self.assertNotEqual(endpoint.copy().secret, endpoint.secret)

    def test_access(self):
        self._endpoint()
        event = self.Event._emit(self.contract, "activated")
        user = new_test_user(
            self.env, "rbm_prov_user", groups="rbm_recurring.rbm_recurring_group_user"
        )
        accountant = new_test_user(self.env, "rbm_prov_acc", groups="account.group_account_invoice")
        manager = new_test_user(
            self.env, "rbm_prov_manager", groups="rbm_recurring.rbm_recurring_group_manager"
        )
        event.state = "dead"
        # users follow what was sent, but neither change it nor see the endpoints
        self.assertEqual(event.with_user(user).payload, event.payload)
        with self.assertRaises(AccessError):
            event.with_user(user).action_retry()
        with self.assertRaises(AccessError):
            self.Endpoint.with_user(user).search([])
        with self.assertRaises(AccessError):
            event.with_user(accountant).read(["payload"])
        self.assertTrue(event.endpoint_id.with_user(manager).secret)

    # ------------------------------------------------------------
    # DELIVERY
    # ------------------------------------------------------------

    def test_delivery_is_signed(self):
        endpoint = self._endpoint()
        event = self.Event._emit(self.contract, "activated")
        self.cron.method_direct_trigger()

        self.assertEqual(len(self.server.received), 1)
        request = self.server.received[0]
        headers, body = request["headers"], request["body"]
        self.assertEqual(request["path"], "/rbm/events")
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["x-rbm-event"], "activated")
        self.assertEqual(headers["x-rbm-delivery"], str(event.id))
        timestamp = headers["x-rbm-timestamp"]
        self.assertLess(abs(int(timestamp) - time.time()), 60)
        expected = hmac.new(
            endpoint.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        self.assertEqual(headers["x-rbm-signature"], f"sha256={expected}")
        data = json.loads(body)
        self.assertEqual(data, json.loads(event.payload))
        self.assertEqual(data["contract"]["name"], self.contract.name)
        self.assertEqual(data["customer"]["vat"], "12.345.678/0001-95")

        self.assertEqual(event.state, "done")
        self.assertEqual(event.tries, 1)
        self.assertEqual(event.last_status_code, 200)
        self.assertTrue(event.delivered_at)
        # delivered once, never again
        self.cron.method_direct_trigger()
        self.assertEqual(len(self.server.received), 1)

    def test_error_retried_with_backoff(self):
        self._endpoint()
        self.server.mode = "error"
        with freeze_time(T0):
            event = self.Event._emit(self.contract, "suspended")
            self.cron.method_direct_trigger()
        self.assertRecordValues(
            event,
            [
                {
                    "state": "failed",
                    "tries": 1,
                    "last_status_code": 500,
                    "next_try_at": T0 + timedelta(seconds=60),
                }
            ],
        )
        self.assertIn("HTTP 500", event.last_error)

        # not due yet
        with freeze_time(T0 + timedelta(seconds=30)):
            self.cron.method_direct_trigger()
        self.assertEqual(len(self.server.received), 1)

        self.server.mode = "ok"
        with freeze_time(T0 + timedelta(seconds=61)):
            self.cron.method_direct_trigger()
        self.assertEqual(len(self.server.received), 2)
        self.assertEqual(
            self.server.received[0]["headers"]["x-rbm-delivery"],
            self.server.received[1]["headers"]["x-rbm-delivery"],
        )
        self.assertRecordValues(event, [{"state": "done", "tries": 2, "last_status_code": 200}])
        self.assertEqual(event.delivered_at, T0 + timedelta(seconds=61))

    def test_dead_letter_after_max_tries(self):
        self._endpoint(max_tries=4)
        self.server.mode = "error"
        with freeze_time(T0):
            event = self.Event._emit(self.contract, "cancelled")
        delays = []
        now = T0
        for _try in range(3):
            with freeze_time(now):
                self.cron.method_direct_trigger()
            if event.state == "failed":
                delays.append((event.next_try_at - now).total_seconds())
                now = event.next_try_at
        with (
            freeze_time(now),
            self.assertLogs("odoo.addons.rbm_recurring.models.rbm_provisioning", "WARNING") as logs,
        ):
            self.cron.method_direct_trigger()
        self.assertIn("dead letter after 4 tries", logs.output[0])
        self.assertEqual(delays, [60, 120, 240])
        self.assertEqual(event.state, "dead")
        self.assertEqual(event.tries, 4)
        self.assertEqual(len(self.server.received), 4)
        # a dead letter is never sent again by itself
        with freeze_time(now + timedelta(days=30)):
            self.cron.method_direct_trigger()
        self.assertEqual(len(self.server.received), 4)
        dead = self.Event.search([("state", "=", "dead"), ("id", "=", event.id)])
        self.assertEqual(dead, event, "the back office lists it as a dead letter")

        # once the endpoint works again, Retry sends it
        self.server.mode = "ok"
        event.action_retry()
        self.assertRecordValues(event, [{"state": "pending", "tries": 0}])
        self.cron.method_direct_trigger()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(self.server.received), 5)

    def test_backoff_is_capped(self):
        delays = [self.Event._get_retry_delay(tries) for tries in (1, 2, 3, 11, 12, 30)]
        self.assertEqual(delays, [60, 120, 240, 61440, 86400, 86400])

    def test_timeout(self):
        self._endpoint(timeout=1)
        self.server.mode = "hang"
        event = self.Event._emit(self.contract, "activated")
        start = time.monotonic()
        self.Event._cron_deliver()
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.tries, 1)
        self.assertIn("Timeout", event.last_error)
        self.assertFalse(event.last_status_code)

    def test_dead_endpoint_never_blocks(self):
        contract_b = self._make_contract(self.plan, d("2026-01-01"), partner=self.customer_b)
        dead = self._endpoint(name="Gone", url=self._closed_port_url())
        # neither emitting nor delivering raises
        self.Event._emit(self.contract | contract_b, "activated")
        healthy = self._endpoint(name="Healthy")
        events = self.Event._emit(self.contract, "renewed")
        self.assertEqual(events.endpoint_id, dead | healthy)
        done = self.Event._cron_deliver()

        self.assertEqual(events.filtered(lambda e: e.endpoint_id == healthy).state, "done")
        self.assertEqual(len(self.server.received), 1)
        dead_events = self.Event.search([("endpoint_id", "=", dead.id)])
        # the unreachable endpoint got one try; its other events wait for the
        # next run instead of holding up the healthy endpoint
        self.assertEqual(sorted(dead_events.mapped("state")), ["failed", "pending", "pending"])
        self.assertIn("ConnectionError", dead_events.filtered("tries").last_error)
        self.assertEqual(done, 2)

        # an archived endpoint keeps its events without sending them
        dead.active = False
        self.assertEqual(self.Event._cron_deliver(), 0)
        self.assertEqual(sorted(dead_events.mapped("state")), ["failed", "pending", "pending"])

    # ------------------------------------------------------------
    # OUTBOUND GUARD
    # ------------------------------------------------------------

    def _close_guard(self):
        icp = self.env["ir.config_parameter"].sudo()
        icp.set_param("rbm_recurring.outbound_allowed_networks", False)
        icp.set_param("rbm_recurring.outbound_allow_http", False)

    def _resolving(self, *addresses):
        """``socket.getaddrinfo`` answering ``addresses`` for every name."""

        def getaddrinfo(host, port, *args, **kwargs):
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port, 0, 0) if ":" in a else (a, port),
                )
                for a in addresses
            ]

        return patch.object(socket, "getaddrinfo", getaddrinfo)

    def test_endpoint_url_guard_when_saved(self):
        self._close_guard()
        refused = {
            "http://panel.example.com/hook": "plain http:// is not allowed",
            "https://127.0.0.1/hook": "127.0.0.1, a loopback address",
            "https://2130706433/hook": "127.0.0.1, a loopback address",
            "https://0x7f.1/hook": "127.0.0.1, a loopback address",
            "https://[::1]:8069/hook": "::1, a loopback address",
            "https://[::ffff:10.0.0.5]/hook": "a private address",
            "https://169.254.169.254/latest/meta-data/": "169.254.169.254, a link-local address",
            "https://192.168.10.20/hook": "192.168.10.20, a private address",
            "https://239.1.2.3/hook": "239.1.2.3, a multicast address",
        }
        for url, reason in refused.items():
            with self.subTest(url=url), self.assertRaises(ValidationError) as error:
                self._endpoint(name="Painel", url=url)
            message = str(error.exception)
            self.assertIn("Endpoint Painel:", message)
            self.assertIn("(field URL)", message)
            self.assertIn(reason, message)
        # a name is resolved and every address it resolves to is checked
        with (
            self._resolving("93.184.215.14", "10.1.2.3"),
            self.assertRaisesRegex(
                ValidationError,
                "Endpoint Painel: .* 10.1.2.3, a private address.*field URL.*"
                "rbm_recurring.outbound_allowed_networks",
            ),
        ):
            self._endpoint(name="Painel", url="https://panel.example.com/hook")
        with self._resolving("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"):
            endpoint = self._endpoint(name="Painel", url="https://panel.example.com/hook")
        # changing the URL later is checked the same way
        with self.assertRaisesRegex(ValidationError, "Endpoint Painel: .*loopback"):
            endpoint.url = "https://127.0.0.1/hook"
        # the system parameters open the guard for one network, and for plain http
        icp = self.env["ir.config_parameter"].sudo()
        icp.set_param("rbm_recurring.outbound_allowed_networks", "192.168.10.0/24")
        icp.set_param("rbm_recurring.outbound_allow_http", "1")
        self._endpoint(url="http://192.168.10.20/hook")
        with self.assertRaisesRegex(ValidationError, "192.168.11.1, a private address"):
            self._endpoint(url="http://192.168.11.1/hook")

    def test_delivery_checks_the_url_again(self):
        """The host resolved to a public address when the endpoint was saved;
        at delivery it resolves to the server itself: nothing is sent."""
        with self._resolving("93.184.215.14"):
            endpoint = self._endpoint(url="https://hooks.example.net/rbm")
        self.Event._emit(self.contract, "activated")
        self._close_guard()
        with self._resolving("127.0.0.1"):
            self.Event._cron_deliver()
        event = self.Event.search([("endpoint_id", "=", endpoint.id)])
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.tries, 1)
        self.assertIn("127.0.0.1, a loopback address", event.last_error)
        self.assertFalse(self.server.received)

        # the guard closed after the endpoint was saved (here: plain http)
        icp = self.env["ir.config_parameter"].sudo()
        icp.set_param("rbm_recurring.outbound_allowed_networks", "127.0.0.0/8")
        icp.set_param("rbm_recurring.outbound_allow_http", "1")
        local = self._endpoint(name="Local")  # saved while allowed
        events = self.Event._emit(self.contract, "renewed").filtered(
            lambda e: e.endpoint_id == local
        )
        self._close_guard()
        self.Event._cron_deliver()
        self.assertEqual(events.state, "failed")
        self.assertIn("plain http:// is not allowed", events.last_error)
        self.assertFalse(self.server.received)

    def test_connection_to_a_refused_address_sends_nothing(self):
        """DNS rebinding: the check resolves the name to a public address, the
        connection to 127.0.0.1; the connected address is checked before the
        request is written."""
        self.env["ir.config_parameter"].sudo().set_param(
            "rbm_recurring.outbound_allowed_networks", False
        )
        port = self.server.server_address[1]
        with self._resolving("93.184.215.14"):
            endpoint = self._endpoint(url=f"http://localhost:{port}/rbm/events")
        event = self.Event._emit(self.contract, "activated")
        with patch(
            "odoo.addons.rbm_recurring.engine.url_guard.resolve",
            return_value=[ipaddress.ip_address("93.184.215.14")],
        ):
            self.Event._cron_deliver()
        self.assertEqual(event.endpoint_id, endpoint)
        self.assertEqual(event.state, "failed")
        self.assertRegex(event.last_error, r"(127\.0\.0\.1|::1), a loopback address")
        self.assertFalse(self.server.received)

    def test_reply_is_bounded_and_for_managers(self):
        self._endpoint()
        self.server.mode = "big"
        event = self.Event._emit(self.contract, "activated")
        self.Event._cron_deliver()
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.last_status_code, 500)
        self.assertEqual(event.last_error, "HTTP 500")
        self.assertEqual(event.last_response, "<html>" + "x" * 994 + " [...]")
        user = new_test_user(
            self.env, "rbm_prov_reply_user", groups="rbm_recurring.rbm_recurring_group_user"
        )
        manager = new_test_user(
            self.env, "rbm_prov_reply_manager", groups="rbm_recurring.rbm_recurring_group_manager"
        )
        self.assertTrue(event.with_user(manager).last_response)
        self.assertEqual(event.with_user(user).last_error, "HTTP 500")
        with self.assertRaises(AccessError):
            event.with_user(user).read(["last_response"])

    def test_delivery_logs_no_personal_data_at_info(self):
        self.contract.partner_id.email = "fulano.tal@example.com"
        self._endpoint()
        self.server.mode = "error"
        self.Event._emit(self.contract, "activated")
        with self.assertLogs("odoo.addons.rbm_recurring", logging.INFO) as logs:
            self.Event._cron_deliver()
        output = "\n".join(logs.output)
        self.assertIn("failed (try 1): HTTP 500", output)
        self.assertNotIn("fulano.tal@example.com", output)
        self.assertNotIn("12.345.678/0001-95", output)
        self.assertNotIn("12345678000195", output)
