import json
import re
import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import RbmBillingCase, d

# IPCA-like monthly % from 03/2026 to 02/2027, with a deflation month (06/2026)
SERIES = [
    ("01/03/2026", "0.50"),
    ("01/04/2026", "0.40"),
    ("01/05/2026", "0.30"),
    ("01/06/2026", "-0.20"),
    ("01/07/2026", "0.25"),
    ("01/08/2026", "0.35"),
    ("01/09/2026", "0.45"),
    ("01/10/2026", "0.55"),
    ("01/11/2026", "0.30"),
    ("01/12/2026", "0.40"),
    ("01/01/2027", "0.50"),
    ("01/02/2027", "0.60"),
]
# Π(1 + v/100) − 1 of SERIES = 0.0448734916683...; 100.00 → 104.49, 33.33 → 34.83
# (33.33 × 1.04487349... = 34.8256...); a monthly plan with 1 × 100.00 + 2 × 33.33
# goes from an MRR of 166.66 to 104.49 + 69.66 = 174.15 (+7.49).
FACTOR = 0.04487349
# IGP-M-like: the same months, signs flipped: Π − 1 = −0.0431463...;
# 100.00 → 95.69, 33.33 → 31.89 (31.8919...); MRR 166.66 → 159.47 (−7.19).
NEGATIVE_SERIES = [
    (day, value[1:] if value.startswith("-") else f"-{value}") for day, value in SERIES
]


class SgsHandler(BaseHTTPRequestHandler):
    """Answers like the Banco Central SGS: ``/dados/serie/bcdata.sgs.{code}/dados``."""

    def do_GET(self):  # noqa: N802 - http.server API
        server = self.server
        server.requests.append(self.path)
        if server.raw:
            status, content_type, body = server.raw
        else:
            url = urlparse(self.path)
            match = re.fullmatch(r"/dados/serie/bcdata\.sgs\.(\d+)/dados", url.path)
            rows = server.series.get(int(match.group(1))) if match else None
            if rows is None:
                status, content_type, body = 404, "text/plain", "Not found"
            else:
                query = parse_qs(url.query)
                first = _parse_date(query["dataInicial"][0])
                last = _parse_date(query["dataFinal"][0])
                body = json.dumps(
                    [
                        {"data": day, "valor": value}
                        for day, value in rows
                        if _safe_date(day) is None or first <= _safe_date(day) <= last
                    ]
                )
                status, content_type = 200, "application/json"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _parse_date(text):
    day, month, year = text.split("/")
    return date(int(year), int(month), int(day))


def _safe_date(text):
    try:
        return _parse_date(text)
    except ValueError:
        return None


@tagged("post_install", "-at_install")
class TestPriceAdjustment(RbmBillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), SgsHandler)
        cls.server.series, cls.server.raw, cls.server.requests = {}, None, []
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)
        cls.base_url = f"http://127.0.0.1:{cls.server.server_port}"
        cls.env["ir.config_parameter"].sudo().set_param("rbm_recurring.sgs_base_url", cls.base_url)
        cls.ipca = cls.env.ref("rbm_recurring.rbm_price_index_ipca")
        cls.ipca.value_ids.unlink()
        cls.lines = [(cls.product_plan, 1, 100.0), (cls.product_seat, 2, 33.33)]
        cls.plan = cls._make_plan(lines=cls.lines, name="Reajustável", price_index_id=cls.ipca.id)

    def setUp(self):
        super().setUp()
        self.server.series, self.server.raw = {433: list(SERIES)}, None
        self.server.requests.clear()

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def _import(self, index=None, today="2027-03-10"):
        with freeze_time(today):
            return (index or self.ipca)._import_sgs()

    def _values(self, index=None):
        return {v.month: v.value for v in (index or self.ipca).value_ids}

    def _prices(self, contract):
        return [line.price_unit for line in contract.line_ids.sorted("id")]

    def _cron(self, day):
        with freeze_time(day):
            return self.env["rbm.contract"]._cron_price_adjustment()

    def _adjustment_events(self, contract):
        return self.env["rbm.mrr.event"].search(
            [("contract_id", "in", contract.ids), ("reason", "=", "adjustment")]
        )

    def _notes(self, contract):
        """Messages and notes posted on the contract (not tracking), newest first."""
        return self.env["mail.message"].search(
            [
                ("model", "=", "rbm.contract"),
                ("res_id", "=", contract.id),
                ("message_type", "=", "comment"),
            ],
            order="id desc",
        )

    def _custom_index(self, rows, name="Custom"):
        return self.env["rbm.price.index"].create(
            {
                "name": name,
                "code": "custom",
                "value_ids": [
                    Command.create({"month": _parse_date(day), "value": float(value)})
                    for day, value in rows
                ],
            }
        )

    # ------------------------------------------------------------
    # import from the Banco Central SGS
    # ------------------------------------------------------------

    def test_import_sgs_is_idempotent_and_takes_revisions(self):
        counts = self._import()
        self.assertEqual(counts, {"created": 12, "updated": 0, "unchanged": 0})
        self.assertIn(
            "/dados/serie/bcdata.sgs.433/dados?formato=json"
            "&dataInicial=01/04/2025&dataFinal=10/03/2027",
            self.server.requests[-1],
        )
        values = self._values()
        self.assertEqual(len(values), 12)
        self.assertEqual(values[d("2026-06-01")], -0.20)
        self.assertEqual(values[d("2027-02-01")], 0.60)
        self.assertEqual(set(self.ipca.value_ids.mapped("source")), {"sgs"})
        self.assertEqual(self.ipca.last_month, d("2027-02-01"))

        # importing again changes nothing
        stored = {v.id: (v.month, v.value) for v in self.ipca.value_ids}
        counts = self._import()
        self.assertEqual(counts, {"created": 0, "updated": 0, "unchanged": 12})
        self.assertEqual({v.id: (v.month, v.value) for v in self.ipca.value_ids}, stored)

        # the publisher revises a month: only that month is updated
        self.server.series[433][-1] = ("01/02/2027", "0.62")
        counts = self._import()
        self.assertEqual(counts, {"created": 0, "updated": 1, "unchanged": 11})
        self.assertEqual(len(self.ipca.value_ids), 12)
        self.assertEqual(self._values()[d("2027-02-01")], 0.62)

        # the button says what it did
        with freeze_time("2027-03-10"):
            action = self.ipca.action_import_sgs()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("12 unchanged", action["params"]["message"])

    def test_import_sgs_bad_answers_are_refused_and_store_nothing(self):
        cases = [
            ((200, "text/html", "<html><body>Manutenção</body></html>"), r"did not answer JSON"),
            ((500, "text/plain", "Internal error"), r"answered HTTP 500"),
            ((200, "application/json", '{"erro": "x"}'), r"not a list of values"),
        ]
        for raw, message in cases:
            with self.subTest(message=message):
                self.server.raw = raw
                with self.assertRaisesRegex(UserError, rf"Index IPCA: .*{message}"):
                    self._import()
                self.assertFalse(self.ipca.value_ids)
        self.server.raw = None
        # a bad number or date on one row: the good rows before it are not stored either
        bad_rows = [
            (("01/09/2026", "abc"), r"row 7 \(01/09/2026\).*invalid monthly % value 'abc'"),
            (("2026-09-01", "0.45"), r"row 7 .*invalid date '2026-09-01'"),
        ]
        for row, message in bad_rows:
            with self.subTest(message=message):
                self.server.series[433] = SERIES[:6] + [row] + SERIES[7:]
                with self.assertRaisesRegex(UserError, rf"Index IPCA: {message}"):
                    self._import()
                self.assertFalse(self.ipca.value_ids)

    def test_import_sgs_unreachable(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.env["ir.config_parameter"].sudo().set_param(
            "rbm_recurring.sgs_base_url", f"http://127.0.0.1:{port}"
        )
        with self.assertRaisesRegex(
            UserError, r"Index IPCA: the Banco Central SGS service could not be reached"
        ):
            self._import()
        self.assertFalse(self.ipca.value_ids)

    @mute_logger("odoo.addons.rbm_recurring.models.rbm_price_index")
    def test_import_cron_isolates_a_failing_index(self):
        igpm = self.env.ref("rbm_recurring.rbm_price_index_igpm")
        with freeze_time("2027-03-12"):
            self.env["rbm.price.index"]._cron_import_sgs()
        self.assertEqual(len(self.ipca.value_ids), 12)
        self.assertFalse(igpm.value_ids)
        self.assertIn("answered HTTP 404", igpm.message_ids[0].body)

    def test_manual_values(self):
        index = self._custom_index([("15/03/2026", "0.5")], name="Aluguel")
        self.assertEqual(index.value_ids.month, d("2026-03-01"), "stored as the first day")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                index.value_ids.create({"index_id": index.id, "month": d("2026-03-31"), "value": 1})
        self.assertEqual(self._values(index), {d("2026-03-01"): 0.5})

    # ------------------------------------------------------------
    # adjustment on the anniversary
    # ------------------------------------------------------------

    def test_notice_then_adjustment_on_the_anniversary(self):
        self._import()
        contract = self._make_contract(self.plan, d("2026-03-15"))
        self.assertEqual(contract.price_index_id, self.ipca)
        self.assertEqual(contract.next_adjustment_date, d("2027-03-15"))
        self.assertEqual(self._prices(contract), [100.0, 33.33])
        self.assertEqual(contract.mrr, 166.66)

        # 30 days before: not yet the day before, then the notice once
        self._cron("2027-02-12")
        self.assertFalse(contract.adjustment_ids)
        messages = self._notes(contract)
        self._cron("2027-02-13")
        notice = self._notes(contract) - messages
        self.assertEqual(len(notice), 1)
        self.assertIn(self.customer_a, notice.partner_ids)
        self.assertIn("price adjustment on 03/15/2027", notice.subject)
        self.assertIn("104.49", notice.body)
        self.assertIn("IPCA", notice.body)
        mails = self.env["mail.mail"].search([("mail_message_id", "=", notice.id)])
        self.assertIn(self.customer_a, mails.recipient_ids)
        self.assertEqual(mails.state, "outgoing")
        self.assertIn(
            self.customer_a,
            notice.notification_ids.filtered(
                lambda n: n.notification_type == "email"
            ).res_partner_id,
        )
        adjustment = contract.adjustment_ids
        self.assertRecordValues(
            adjustment,
            [{"anniversary": d("2027-03-15"), "state": "notified", "notice_date": d("2027-02-13")}],
        )
        self._cron("2027-02-14")
        self.assertEqual(self._notes(contract), notice | messages, "the notice is sent once")
        self.assertEqual(self._prices(contract), [100.0, 33.33])

        # on the anniversary the prices go up by the 12 months 03/2026..02/2027
        self._cron("2027-03-15")
        self.assertEqual(self._prices(contract), [104.49, 34.83])
        self.assertEqual(contract.mrr, 174.15)
        self.assertRecordValues(
            adjustment,
            [
                {
                    "state": "applied",
                    "index_id": self.ipca.id,
                    "period_start": d("2026-03-01"),
                    "period_end": d("2027-02-01"),
                    "date_done": d("2027-03-15"),
                }
            ],
        )
        self.assertAlmostEqual(adjustment.factor, FACTOR, places=8)
        self.assertAlmostEqual(adjustment.applied_factor, FACTOR, places=8)
        self.assertEqual(
            [(line.old_price, line.new_price) for line in adjustment.line_ids],
            [(100.0, 104.49), (33.33, 34.83)],
        )
        self.assertEqual(contract.last_adjustment_date, d("2027-03-15"))
        self.assertEqual(contract.next_adjustment_date, d("2028-03-15"))
        note = self._notes(contract)[0]
        for text in ("IPCA", "4.4873%", "03/2026", "02/2027", "100.00", "104.49", "34.83"):
            self.assertIn(text, note.body)
        event = self._adjustment_events(contract)
        self.assertRecordValues(
            event,
            [
                {
                    "date": d("2027-03-15"),
                    "event_type": "expansion",
                    "mrr_before": 166.66,
                    "delta": 7.49,
                    "mrr_after": 174.15,
                }
            ],
        )

        # never twice for one anniversary
        messages = self._notes(contract)
        self._cron("2027-03-15")
        self._cron("2027-03-16")
        with freeze_time("2027-03-16"):
            self.assertEqual(contract._apply_price_adjustment(d("2027-03-15")), adjustment)
        self.assertEqual(self._prices(contract), [104.49, 34.83])
        self.assertEqual(self._adjustment_events(contract), event)
        self.assertEqual(contract.adjustment_ids, adjustment)
        self.assertEqual(self._notes(contract), messages)

    def test_negative_variation_floor_or_apply(self):
        index = self._custom_index(NEGATIVE_SERIES, name="IGP-M negativo")
        floor_plan = self._make_plan(lines=self.lines, price_index_id=index.id)
        apply_plan = self._make_plan(
            lines=self.lines, price_index_id=index.id, adjustment_negative_policy="apply"
        )
        floored = self._make_contract(floor_plan, d("2026-03-15"))
        lowered = self._make_contract(apply_plan, d("2026-03-15"), partner=self.customer_b)
        self._cron("2027-03-15")

        adjustment = floored.adjustment_ids
        self.assertEqual(adjustment.state, "skipped")
        self.assertIn("negative", adjustment.skip_reason)
        self.assertAlmostEqual(adjustment.factor, -0.04314635, places=8)
        self.assertEqual(adjustment.applied_factor, 0.0)
        self.assertEqual(self._prices(floored), [100.0, 33.33])
        self.assertFalse(self._adjustment_events(floored))
        self.assertEqual(floored.last_adjustment_date, d("2027-03-15"))
        self.assertIn("skipped", self._notes(floored)[0].body)

        self.assertEqual(lowered.adjustment_ids.state, "applied")
        self.assertEqual(self._prices(lowered), [95.69, 31.89])
        self.assertRecordValues(
            self._adjustment_events(lowered),
            [{"event_type": "contraction", "delta": -7.19, "mrr_after": 159.47}],
        )

    def test_cap(self):
        self._import()
        plan = self._make_plan(lines=self.lines, price_index_id=self.ipca.id, adjustment_cap=3.0)
        contract = self._make_contract(plan, d("2026-03-15"))
        self._cron("2027-03-15")
        adjustment = contract.adjustment_ids
        self.assertAlmostEqual(adjustment.factor, FACTOR, places=8)
        self.assertAlmostEqual(adjustment.applied_factor, 0.03, places=8)
        # 33.33 × 1.03 = 34.3299
        self.assertEqual(self._prices(contract), [103.0, 34.33])
        self.assertEqual(self._adjustment_events(contract).delta, 5.0)

    @mute_logger("odoo.addons.rbm_recurring.models.rbm_price_adjustment")
    def test_missing_months_are_refused_and_retried(self):
        self.server.series[433] = [
            row for row in SERIES if row[0] not in ("01/08/2026", "01/02/2027")
        ]
        self._import()
        contract = self._make_contract(self.plan, d("2026-03-15"))
        with (
            freeze_time("2027-03-15"),
            self.assertRaisesRegex(UserError, r"these months have no value: 08/2026, 02/2027"),
        ):
            contract._apply_price_adjustment(d("2027-03-15"))
        self.assertEqual(self._prices(contract), [100.0, 33.33])
        self.assertFalse(contract.adjustment_ids)

        # the cron notes it on the chatter instead of failing, and retries the next day
        messages = self._notes(contract)
        self._cron("2027-03-15")
        refusal = self._notes(contract) - messages
        self.assertEqual(len(refusal), 1)
        self.assertIn("tried again tomorrow", refusal.body)
        self.assertIn("08/2026, 02/2027", refusal.body)
        self.assertEqual(self._prices(contract), [100.0, 33.33])
        self.assertRecordValues(
            contract.adjustment_ids, [{"state": "pending", "error_date": d("2027-03-15")}]
        )
        self.assertEqual(contract.adjustment_action_date, d("2027-03-16"))
        self._cron("2027-03-16")
        self.assertEqual(self._notes(contract), refusal | messages, "same refusal noted once")

        self.server.series[433] = list(SERIES)
        self._import(today="2027-03-16")
        self._cron("2027-03-17")
        self.assertEqual(self._prices(contract), [104.49, 34.83])
        self.assertRecordValues(
            contract.adjustment_ids,
            [{"state": "applied", "anniversary": d("2027-03-15"), "error_message": False}],
        )
        self.assertEqual(len(self._adjustment_events(contract)), 1)

    # ------------------------------------------------------------
    # wizard
    # ------------------------------------------------------------

    def _wizard(self, contracts, day):
        with freeze_time(day):
            form = Form(
                self.env["rbm.price.adjustment.wizard"].with_context(
                    active_model="rbm.contract", active_ids=contracts.ids
                )
            )
            return form.save()

    def test_wizard_preview_and_apply(self):
        self._import()
        first = self._make_contract(self.plan, d("2026-03-15"))
        second = self._make_contract(self.plan, d("2026-03-01"), partner=self.customer_b)
        young = self._make_contract(self.plan, d("2026-10-01"))
        contracts = first | second | young
        wizard = self._wizard(contracts, "2027-03-20")
        self.assertEqual(wizard.date, d("2027-03-20"))
        self.assertEqual(wizard.contract_ids, contracts)
        self.assertEqual((wizard.ready_count, wizard.error_count), (2, 0))
        for text in (first.name, "03/15/2027", "03/01/2027", "4.4873%", "104.49", "34.83"):
            self.assertIn(text, wizard.preview)
        self.assertIn("Nothing to do", wizard.preview)
        self.assertEqual(self._prices(first), [100.0, 33.33], "the preview changes nothing")

        with freeze_time("2027-03-20"):
            action = wizard.action_apply()
        adjustments = self.env["rbm.price.adjustment"].search(action["domain"])
        self.assertEqual(adjustments.contract_id, first | second)
        self.assertEqual(set(adjustments.mapped("state")), {"applied"})
        self.assertEqual(self._prices(first), [104.49, 34.83])
        self.assertEqual(self._prices(second), [104.49, 34.83])
        self.assertEqual(self._prices(young), [100.0, 33.33])
        self.assertEqual(len(self._adjustment_events(first | second)), 2)

        # a second run finds nothing left to adjust
        wizard = self._wizard(contracts, "2027-03-21")
        self.assertEqual(wizard.ready_count, 0)
        with freeze_time("2027-03-21"), self.assertRaisesRegex(UserError, "None of the selected"):
            wizard.action_apply()
        self.assertEqual(self._prices(first), [104.49, 34.83])

    def test_wizard_refuses_the_whole_selection_when_one_cannot_be_adjusted(self):
        self._import()
        gappy = self._custom_index(SERIES[:5] + SERIES[6:], name="Incompleto")
        good = self._make_contract(self.plan, d("2026-03-15"))
        bad = self._make_contract(self.plan, d("2026-03-15"), partner=self.customer_b)
        bad.price_index_id = gappy
        wizard = self._wizard(good | bad, "2027-03-15")
        self.assertEqual((wizard.ready_count, wizard.error_count), (1, 1))
        self.assertIn("these months have no value: 08/2026", wizard.preview)
        with (
            freeze_time("2027-03-15"),
            self.assertRaisesRegex(
                UserError, rf"(?s)Nothing was adjusted.*{re.escape(bad.name)}.*08/2026"
            ),
        ):
            wizard.action_apply()
        self.assertEqual(self._prices(good), [100.0, 33.33])
        self.assertFalse((good | bad).adjustment_ids)
