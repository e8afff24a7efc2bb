import datetime

from lxml import etree
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import NfseCase
from .sefin_server import schema_errors


@tagged("post_install", "-at_install")
class TestNfseIssue(NfseCase):
    def assertIssued(self, move):
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "issued", nfse.error_message)
        self.assertEqual(move.rbm_nfse_state, "issued")
        self.assertEqual(len(nfse.access_key), 50)
        self.assertTrue(nfse.nfse_number)
        self.assertIn(nfse.access_key, self.sefin.nfse)
        self.assertEqual(self.sefin.by_dps[nfse.dps_id], nfse.access_key)
        xml = etree.fromstring(nfse.nfse_attachment_id.raw)
        self.assertEqual(schema_errors(xml, "NFSe_v1.01.xsd"), [])
        self.assertEqual(nfse.nfse_attachment_id.res_id, move.id)
        self.assertTrue(nfse.dps_attachment_id.raw.startswith(b"<?xml"))
        return nfse

    # -- issuing moments ------------------------------------------------------------

    def test_on_post_queued_then_issued_by_the_run(self):
        sent_before = len(self.posts())
        move = self.make_invoice(amount=1000.0)
        # posting only queues it: nothing went to the Sefin inside the posting transaction
        self.assertEqual(move.rbm_nfse_state, "to_issue")
        self.assertEqual(len(self.posts()), sent_before)
        self.run_cron()
        nfse = self.assertIssued(move)
        self.assertEqual(nfse.attempts, 1)
        self.assertTrue(nfse.number)
        self.assertEqual(nfse.series, "1")
        info = etree.fromstring(nfse.nfse_attachment_id.raw).find(
            "{http://www.sped.fazenda.gov.br/nfse}infNFSe"
        )
        ns = {"n": "http://www.sped.fazenda.gov.br/nfse"}
        self.assertEqual(info.findtext("n:valores/n:vISSQN", namespaces=ns), "50.00")
        self.assertEqual(
            info.findtext("n:DPS/n:infDPS/n:toma/n:CNPJ", namespaces=ns), "11444777000161"
        )
        self.assertIn(nfse.access_key, move.message_ids[0].body)
        self.assertIn(nfse.nfse_attachment_id, move.message_ids[0].attachment_ids)

    def test_on_payment(self):
        self.company.nfse_issue_moment = "payment"
        move = self.make_invoice(amount=300.0)
        self.assertFalse(move.rbm_nfse_id)
        self.run_cron()
        self.assertFalse(move.rbm_nfse_id)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({})._create_payments()
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertEqual(move.rbm_nfse_state, "to_issue")
        self.run_cron()
        self.assertIssued(move)

    def test_plan_overrides_the_moment(self):
        plan = self.env["rbm.plan"].create({"name": "Pago", "nfse_issue_moment": "payment"})
        contract = self.env["rbm.contract"].create(
            {"partner_id": self.customer.id, "plan_id": plan.id}
        )
        move = self.make_invoice(rbm_contract_id=contract.id)
        self.assertFalse(move.rbm_nfse_id)

    def test_days_before_due_date(self):
        self.company.write({"nfse_issue_moment": "before_due", "nfse_days_before_due": 5})
        today = fields.Date.today()
        soon = self.make_invoice(amount=100.0, due=today + datetime.timedelta(days=3))
        later = self.make_invoice(amount=200.0, due=today + datetime.timedelta(days=20))
        self.assertFalse(soon.rbm_nfse_id)
        self.run_cron()
        self.assertIssued(soon)
        self.assertFalse(later.rbm_nfse_id)

    def test_batch(self):
        moves = [self.make_invoice(amount=100.0 + i) for i in range(5)]
        handshakes = self.sefin.handshakes
        self.run_cron(batch_size=2)
        self.assertEqual(sum(m.rbm_nfse_state == "issued" for m in moves), 2)
        # the run sends its DPS over one TLS connection to the Sefin, kept alive
        self.assertEqual(self.sefin.handshakes - handshakes, 1)
        self.run_cron(batch_size=2)
        self.run_cron(batch_size=2)
        numbers = []
        for move in moves:
            numbers.append(self.assertIssued(move).number)
        self.assertEqual(sorted(numbers), list(range(min(numbers), min(numbers) + 5)))
        # one NFS-e per invoice: a second record is refused by the database
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["rbm.nfse"].create({"move_id": moves[0].id})
            self.env.flush_all()

    # -- failures -------------------------------------------------------------------

    def test_rejection_then_fix_and_resend(self):
        self.product.nfse_service_code = "990101"  # unknown to this Sefin
        move = self.make_invoice()
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "rejected")
        self.assertEqual(nfse.error_codes, "E0312")
        self.assertIn(move.name, nfse.error_message)
        number = nfse.number
        self.assertIn("E0312", move.message_ids[0].body)
        # a person fixes the product and resends
        self.product.nfse_service_code = "010501"
        nfse.action_resend()
        self.assertEqual(nfse.state, "to_issue")
        self.run_cron()
        self.assertIssued(move)
        self.assertEqual(nfse.number, number, "the DPS number is kept: no gap")

    def test_outage_then_retry(self):
        move = self.make_invoice()
        self.sefin.fail_next(times=1, status=503, path_regex=r"^/nfse$")
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "sent")
        self.assertGreater(nfse.next_retry, fields.Datetime.now())
        self.assertIn("unavailable", nfse.error_message)
        # not retried before its time
        self.run_cron()
        self.assertEqual(nfse.attempts, 1)
        nfse.next_retry = self.past()
        self.run_cron()
        self.assertIssued(move)
        self.assertEqual(nfse.attempts, 2)

    def test_lost_answer_after_issue_no_duplicate(self):
        """The Sefin issued the NFS-e but the answer was lost and the look-up failed too:
        the next run finds it by the DPS id instead of sending it again."""
        move = self.make_invoice()
        self.sefin.drop_after_issue(1)
        self.sefin.fail_next(times=1, status=503, path_regex=r"^/dps/")
        issued_before = len(self.sefin.nfse)
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "sent")
        self.assertEqual(len(self.sefin.nfse), issued_before + 1, "issued at the Sefin")
        posts = len(self.posts())
        nfse.next_retry = self.past()
        self.run_cron()
        self.assertIssued(move)
        self.assertEqual(len(self.posts()), posts, "looked up, not sent again")
        self.assertEqual(len(self.sefin.nfse), issued_before + 1, "no duplicate")

    def test_customer_without_document_or_city_refused(self):
        sent_before = len(self.sefin.requests)
        no_vat = self.customer.copy({"vat": False})
        no_city = self.customer.copy({"nfse_city_ibge": False})
        move_vat = self.make_invoice(partner=no_vat)
        move_city = self.make_invoice(partner=no_city)
        self.run_cron()
        for move, words in ((move_vat, "CPF/CNPJ"), (move_city, "IBGE")):
            nfse = move.rbm_nfse_id
            self.assertEqual(nfse.state, "rejected")
            self.assertIn(move.name, nfse.error_message)
            self.assertIn(words, nfse.error_message)
            self.assertFalse(nfse.number, "no DPS number is used")
        self.assertEqual(len(self.sefin.requests), sent_before, "nothing sent")

    def test_invoice_with_issued_nfse_not_reset_to_draft(self):
        move = self.make_invoice()
        self.run_cron()
        with self.assertRaisesRegex(UserError, "Cancel NFS-e"):
            move.button_draft()

    # -- cancellation ---------------------------------------------------------------

    def cancel(self, move):
        action = move.action_rbm_nfse_cancel()
        wizard = Form(self.env[action["res_model"]].with_context(action["context"]))
        wizard.reason_code = "2"
        wizard.reason = "Serviço não foi prestado ao cliente"
        return wizard.save().action_cancel()

    def test_cancellation_inside_window(self):
        move = self.make_invoice()
        self.run_cron()
        nfse = move.rbm_nfse_id
        events = len(self.sefin.events)
        self.cancel(move)
        self.assertEqual(nfse.state, "cancelled")
        self.assertEqual(nfse.cancel_reason_code, "2")
        self.assertEqual(move.state, "cancel")
        self.assertEqual(len(self.sefin.events), events + 1)
        self.assertEqual(self.sefin.events[-1]["chave"], nfse.access_key)
        self.assertEqual(self.sefin.nfse[nfse.access_key].get("cancelled", True), True)

    def test_cancellation_outside_window(self):
        move = self.make_invoice()
        self.run_cron()
        window = self.sefin.cancel_window
        self.sefin.cancel_window = datetime.timedelta(seconds=-1)
        try:
            with self.assertRaisesRegex(UserError, "refused to cancel"):
                self.cancel(move)
        finally:
            self.sefin.cancel_window = window
        self.assertEqual(move.rbm_nfse_state, "issued")
        self.assertEqual(move.state, "posted")
