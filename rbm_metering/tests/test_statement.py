import csv
import io
from decimal import Decimal

from odoo.tests import Form, tagged

from odoo.addons.rbm_recurring.tests.common import d

from .common import RbmMeteringCase, event


@tagged("post_install", "-at_install")
class TestUsageStatement(RbmMeteringCase):
    """The usage statement: its figures are the invoice's, in the back
    office, as CSV and as PDF, and attached to the invoice email."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 100 GB included, 0.50 per GB above
        cls.plan = cls._make_usage_plan(
            cls.storage, price_model="allowance", allowance=100.0, overage_price=0.5
        )
        cls.contract = cls._make_contract(cls.plan, d("2027-01-01"))

    def _ingest_january(self):
        results = self._ingest(
            self.contract,
            [
                event("jan-1", 40, "2027-01-05T10:00:00Z"),
                event("jan-2", "50.5", "2027-01-10T10:00:00Z"),
                event("jan-3", 20, "2027-01-10T18:00:00Z"),
                event("jan-4", 10, "2027-01-20T10:00:00Z"),
            ],
            "2027-01-31 23:00:00",
        )
        self.assertEqual({r["status"] for r in results}, {"accepted"}, results)

    def _statement(self, day="2027-01-01", at="2027-01-31 23:30:00"):
        with self._frozen(at):
            return self.contract._get_usage_statement(day)

    def test_statement_matches_the_invoice(self):
        self._ingest_january()
        before = self._statement()
        self.assertTrue(before["is_open"])
        self.assertEqual(before["window"]["start"], d("2027-01-01"))
        self.assertEqual(before["window"]["end"], d("2027-01-31"))
        (item,) = before["metrics"]
        self.assertEqual(item["quantity"], Decimal("120.5"))
        self.assertEqual(item["allowance"], Decimal(100))
        self.assertEqual(item["used_percent"], 120)
        self.assertEqual(item["billable"], Decimal("20.5"))
        self.assertEqual(item["amount"], Decimal("10.25"))
        self.assertEqual(item["count"], 4)
        self.assertEqual(before["total"], Decimal("10.25"))
        # daily series: every day of the period, the day's sum
        daily = dict(item["daily"])
        self.assertEqual(len(daily), 31)
        self.assertEqual(daily[d("2027-01-05")], Decimal(40))
        self.assertEqual(daily[d("2027-01-10")], Decimal("70.5"))
        self.assertEqual(daily[d("2027-01-20")], Decimal(10))
        self.assertEqual(daily[d("2027-01-06")], Decimal(0))
        self.assertEqual(sum(daily.values()), item["quantity"])

        move = self._bill(self.contract, d("2027-02-01"))["moves"]
        line = self._usage_line(move)
        self.assertEqual(line.price_unit, 10.25)
        self.assertIn("120.5 GB — allowance 100 GB", line.name)

        after = self._statement(at="2027-02-15 10:00:00")
        self.assertFalse(after["is_open"])
        self.assertEqual(after["invoice"], move)
        (item_after,) = after["metrics"]
        self.assertEqual(item_after["quantity"], item["quantity"])
        self.assertEqual(item_after["amount"], Decimal(str(line.price_unit)))
        self.assertEqual(after["total"], before["total"])
        self.assertEqual(item_after["daily"], item["daily"])
        # the February statement (current period) starts empty
        february = self._statement(day=None, at="2027-02-15 10:00:00")
        self.assertEqual(february["window"]["start"], d("2027-02-01"))
        self.assertEqual(february["metrics"][0]["quantity"], Decimal(0))
        self.assertTrue(february["is_open"])
        starts = [w["start"] for w in february["windows"]]
        self.assertEqual(starts, [d("2027-02-01"), d("2027-01-01")])

    def test_late_event_counts_in_the_next_period_statement(self):
        self._ingest_january()
        self._bill(self.contract, d("2027-02-01"))
        self._ingest(
            self.contract, [event("late", 5, "2027-01-25T10:00:00Z")], "2027-02-03 10:00:00"
        )
        january = self._statement(at="2027-02-15 10:00:00")
        february = self._statement(day="2027-02-10", at="2027-02-15 10:00:00")
        self.assertEqual(january["metrics"][0]["quantity"], Decimal("120.5"))
        self.assertEqual(february["metrics"][0]["quantity"], Decimal(5))

    def test_csv(self):
        self._ingest_january()
        statement = self._statement()
        rows = list(csv.DictReader(io.StringIO(self.contract._get_statement_csv(statement))))
        daily = [r for r in rows if r["date"] != "total"]
        (total,) = [r for r in rows if r["date"] == "total"]
        self.assertEqual(len(daily), 31)
        self.assertEqual(
            {r["date"]: r["quantity"] for r in daily if r["quantity"] != "0"},
            {"2027-01-05": "40", "2027-01-10": "70.5", "2027-01-20": "10"},
        )
        self.assertEqual(total["metric"], "storage_gb")
        self.assertEqual(total["unit"], "GB")
        self.assertEqual(total["quantity"], "120.5")
        self.assertEqual(total["allowance"], "100")
        self.assertEqual(total["billable"], "20.5")
        self.assertEqual(total["amount"], "10.25")
        self.assertEqual(total["currency"], self.contract.currency_id.name)
        self.assertEqual(total["period_start"], "2027-01-01")

    def test_pdf_renders_the_totals(self):
        self._ingest_january()
        with self._frozen("2027-01-31 23:30:00"):
            content, _type = self.env["ir.actions.report"]._render_qweb_pdf(
                "rbm_metering.action_report_usage_statement",
                self.contract.ids,
                data={"period": "2027-01-01"},
            )
        text = content.decode()
        self.assertIn(self.contract.name, text)
        self.assertIn("120.5", text)
        self.assertIn("10.25", text)
        self.assertIn("120 %", text)
        self.assertIn("<svg", text)
        self.assertIn("70.5", text)  # the daily table

    def test_back_office_statement(self):
        self._ingest_january()
        with self._frozen("2027-02-15 10:00:00"):
            action = self.contract.action_open_usage_statement()
            wizard = self.env["rbm.usage.statement"].browse(action["res_id"])
            self.assertEqual(wizard.period_start, d("2027-02-01"))
            wizard.action_previous_period()
            self.assertEqual(wizard.period_start, d("2027-01-01"))
            self.assertEqual(wizard.period_end, d("2027-01-31"))
            self.assertEqual(wizard.total, 10.25)
            self.assertIn("120.5", wizard.statement_html)
            with Form(wizard) as form:
                form.date = d("2027-02-03")
            self.assertEqual(wizard.period_start, d("2027-02-01"))
            wizard.action_previous_period()
            graph = wizard.action_view_graph()
            self.assertEqual(graph["views"][0][1], "graph")
            events = self.env["rbm.usage"].search(graph["domain"])
            self.assertEqual(len(events), 4)
            self.assertEqual(wizard.action_view_pivot()["views"][0][1], "pivot")
            report = wizard.action_print()
            # (wrapped in the layout configurator while the company has none)
            report = report["context"].get("report_action", report)
            self.assertEqual(report["data"], {"period": "2027-01-01"})
            self.assertEqual(report["report_name"], "rbm_metering.report_usage_statement")

    def test_statement_attached_to_the_invoice_email(self):
        self._ingest_january()
        move = self._bill(self.contract, d("2027-02-01"))["moves"]
        Send = self.env["account.move.send"]
        self.assertFalse(
            Send._get_invoice_extra_attachments(move).filtered(
                lambda a: a.name.startswith("Usage statement")
            )
        )
        self.plan.usage_statement_on_invoice = True
        attachments = Send._get_invoice_extra_attachments(move)
        statement = attachments.filtered(lambda a: a.name.startswith("Usage statement"))
        self.assertEqual(len(statement), 1)
        number = self.contract.name.replace("/", "-")
        self.assertEqual(statement.name, f"Usage statement {number} 2027-01-01.pdf")
        self.assertIn(b"120.5", statement.raw)
        # asked again (the send wizard, then the sending): the same attachment
        self.assertEqual(
            Send._get_invoice_extra_attachments(move).filtered(
                lambda a: a.name.startswith("Usage statement")
            ),
            statement,
        )
        widget = Send._get_default_mail_attachments_widget(
            move, self.env.ref("account.email_template_edi_invoice")
        )
        self.assertIn(statement.id, [a["id"] for a in widget])


@tagged("post_install", "-at_install")
class TestUsageAlerts(RbmMeteringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls._make_usage_plan(
            cls.storage, price_model="allowance", allowance=100.0, overage_price=0.5
        )
        cls.contract = cls._make_contract(cls.plan, d("2027-01-01"))
        cls.cron = cls.env.ref("rbm_metering.ir_cron_rbm_usage_alerts")

    def _run_cron(self, at):
        with self._frozen(at):
            self.cron.method_direct_trigger()
        return self.env["rbm.usage.alert"].search([("contract_id", "=", self.contract.id)])

    def _mails(self, alerts):
        return self.env["mail.mail"].search(
            [("model", "=", "rbm.usage.alert"), ("res_id", "in", alerts.ids)]
        )

    def test_alerts_at_80_then_100_percent_once_each(self):
        self._ingest(self.contract, [event("a", 79, "2027-01-05T10:00:00")], "2027-01-10 10:00:00")
        self.assertFalse(self._run_cron("2027-01-10 11:00:00"))

        self._ingest(self.contract, [event("b", 6, "2027-01-11T10:00:00")], "2027-01-12 10:00:00")
        alerts = self._run_cron("2027-01-12 11:00:00")
        self.assertEqual(alerts.mapped("threshold"), [80])
        self.assertEqual(alerts.used_percent, 85)
        self.assertEqual(alerts.period_start, d("2027-01-01"))
        mail = self._mails(alerts)
        self.assertEqual(len(mail), 1)
        self.assertIn("80%", mail.subject)
        self.assertEqual(mail.recipient_ids, self.contract.partner_id)
        self.assertIn("85 GB", mail.body_html)
        self.assertIn(
            f"/my/subscriptions/{self.contract.id}/usage?period=2027-01-01", mail.body_html
        )

        # a second run sends nothing
        self.assertEqual(self._run_cron("2027-01-12 12:00:00"), alerts)
        self.assertEqual(len(self._mails(alerts)), 1)

        self._ingest(self.contract, [event("c", 20, "2027-01-13T10:00:00")], "2027-01-14 10:00:00")
        alerts = self._run_cron("2027-01-14 11:00:00")
        self.assertEqual(sorted(alerts.mapped("threshold")), [80, 100])
        self.assertEqual(len(self._mails(alerts)), 2)
        self.assertEqual(self._run_cron("2027-01-14 12:00:00"), alerts)
        self.assertEqual(len(self._mails(alerts)), 2)
        self.assertIn("100%", self._mails(alerts.filtered(lambda a: a.threshold == 100)).subject)

        # a new period starts over
        self._bill(self.contract, d("2027-02-01"))
        self._ingest(self.contract, [event("d", 90, "2027-02-02T10:00:00")], "2027-02-03 10:00:00")
        alerts = self._run_cron("2027-02-03 11:00:00")
        february = alerts.filtered(lambda a: a.period_start == d("2027-02-01"))
        self.assertEqual(february.mapped("threshold"), [80])

    def test_both_thresholds_at_once_send_one_email(self):
        self._ingest(self.contract, [event("a", 130, "2027-01-05T10:00:00")], "2027-01-10 10:00:00")
        alerts = self._run_cron("2027-01-10 11:00:00")
        self.assertEqual(sorted(alerts.mapped("threshold")), [80, 100])
        self.assertEqual(alerts.filtered(lambda a: a.threshold == 80).state, "superseded")
        mails = self._mails(alerts)
        self.assertEqual(len(mails), 1)
        self.assertIn("100%", mails.subject)

    def test_cron_in_batches(self):
        other = self._make_contract(self.plan, d("2027-01-01"), partner=self.customer_b)
        self._ingest(self.contract, [event("a", 85, "2027-01-05T10:00:00")], "2027-01-10 10:00:00")
        self._ingest(other, [event("b", 90, "2027-01-05T10:00:00")], "2027-01-10 10:00:00")
        Alert = self.env["rbm.usage.alert"]
        contracts = self.contract | other
        with self._frozen("2027-01-10 11:00:00"):
            found = self.env["ir.config_parameter"].sudo()
            found.set_param("rbm_metering.usage_alert_cursor", "0")
            sent = Alert.browse()
            for _run in range(20):
                sent |= Alert._cron_check_usage_alerts(batch_size=1)
                if found.get_param("rbm_metering.usage_alert_cursor") == "0":
                    break
        self.assertEqual(sent.filtered(lambda a: a.contract_id in contracts).contract_id, contracts)

    def test_no_allowance_no_alert(self):
        plan = self._make_usage_plan(self.storage, price_unit=0.1)
        contract = self._make_contract(plan, d("2027-01-01"))
        self._ingest(contract, [event("a", 500, "2027-01-05T10:00:00")], "2027-01-10 10:00:00")
        with self._frozen("2027-01-10 11:00:00"):
            self.cron.method_direct_trigger()
        self.assertFalse(self.env["rbm.usage.alert"].search([("contract_id", "=", contract.id)]))
