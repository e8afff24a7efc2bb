import datetime
import socket

from lxml import etree

from odoo import fields
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import NfseCase

# code, the Sefin's Descricao, what the user reads: the field ... and the words
MAPPED = [
    ("RNG6110", "Falha Schema Xml", "the DPS layout (XML schema)", "official schema"),
    ("E6154", "Xml não está utilizando codificação UTF-8", "the DPS layout", "UTF-8"),
    (
        "E6155",
        "Xml declarado com prefixo de namespace.",
        "the DPS signature (the company's A1 certificate)",
        "namespace prefix (ds:)",
    ),
    (
        "E0004",
        "Conteúdo do identificador informado na DPS difere da concatenação dos campos "
        "correspondentes.",
        "the DPS number",
        "DPS Id does not match",
    ),
    (
        "E0008",
        "Data de emissão da DPS posterior à data de processamento",
        "the DPS issue date and time",
        "later than the Sefin's clock",
    ),
    ("E0014", "DPS já convertida em NFS-e", "the DPS number", "already turned into another"),
    (
        "E0310",
        "O código de tributação nacional informado não existe conforme a lista de serviços "
        "nacional do Sistema Nacional NFS-e.",
        "the national service code of the product",
        "does not exist in the national service list",
    ),
    (
        "E0312",
        "Código de tributação nacional não administrado pelo município",
        "the national service code of the product",
        "municipality does not administer",
    ),
    (
        "E0714",
        "Arquivo enviado com erro na assinatura.",
        "the DPS signature (the company's A1 certificate)",
        "could not verify the DPS signature",
    ),
    ("E1235", "Informe o grupo finNFSe", "the DPS layout version", "NT 009"),
]


@tagged("post_install", "-at_install")
class TestNfseErrors(NfseCase):
    """Every documented rejection code the local Sefin returns reaches the user in words,
    naming the invoice and the field; an unknown code keeps the Sefin's own text."""

    def setUp(self):
        super().setUp()
        # the messages are compared in the source language, whatever the admin's language
        self.env = self.env(context=dict(self.env.context, lang="en_US"))

    def test_each_mapped_code(self):
        for code, description, field, words in MAPPED:
            with self.subTest(code=code):
                move = self.make_invoice(amount=123.45)
                self.sefin.refuse_next(code, description, "detalhe do servidor")
                self.run_cron()
                nfse = move.rbm_nfse_id
                self.assertEqual(nfse.state, "rejected")
                self.assertEqual(nfse.error_codes, code)
                message = nfse.error_message
                self.assertTrue(message.startswith(f"Invoice {move.name}: {field}"), message)
                self.assertIn(words, message)
                self.assertIn(f"[{code}: {description} (detalhe do servidor)]", message)
                self.assertIn(code, move.message_ids[0].body)
                # the refused DPS is not an outage: no retry scheduled, a person resends
                self.assertFalse(nfse.next_retry)

    def test_real_refusals_of_the_local_sefin(self):
        """Codes the local Sefin derives from the DPS itself (not injected)."""
        self.product.nfse_service_code = "990101"  # the municipality does not administer it
        move = self.make_invoice()
        self.run_cron()
        message = move.rbm_nfse_id.error_message
        self.assertIn("the national service code of the product", message)
        self.assertIn("[E0312: Código de tributação nacional não administrado", message)
        self.assertIn("(990101)", message)

    def test_unknown_code_keeps_the_sefin_text(self):
        move = self.make_invoice()
        self.sefin.refuse_next("E9876", "Regra nova da Sefin", "campo X")
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.error_codes, "E9876")
        self.assertEqual(
            nfse.error_message,
            f"Invoice {move.name}: the Sefin Nacional refused it with E9876: Regra nova da "
            "Sefin (campo X)",
        )

    def test_several_codes_one_line_each(self):
        move = self.make_invoice()
        self.sefin.refuse_next("E0008", "Data futura")
        self.run_cron()
        nfse = move.rbm_nfse_id
        nfse.action_resend()
        self.sefin.refuse_next("E0312", "Não administrado", "010501")
        self.run_cron()
        self.assertEqual(nfse.error_codes, "E0312")
        self.assertEqual(len(nfse.error_message.splitlines()), 1)

    def test_forbidden_without_body_names_the_certificate(self):
        move = self.make_invoice()
        self.sefin.fail_next(times=1, status=403, path_regex=r"^/nfse$")
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "rejected")
        self.assertIn("the company's A1 certificate", nfse.error_message)
        self.assertIn("HTTP 403", nfse.error_message)


@tagged("post_install", "-at_install")
class TestNfseOutage(NfseCase):
    """An outage (5xx, timeout, connection refused) is retried with back-off, 5 minutes
    doubling up to 6 hours, and is never a rejection."""

    def setUp(self):
        super().setUp()
        # the messages are compared in the source language, whatever the admin's language
        self.env = self.env(context=dict(self.env.context, lang="en_US"))

    def minutes_to_retry(self, nfse):
        return round((nfse.next_retry - fields.Datetime.now()).total_seconds() / 60)

    def test_back_off_doubles_up_to_the_cap(self):
        move = self.make_invoice()
        nfse = self.env["rbm.nfse"]
        # by hand: 5, 10, 20, 40, 80, 160, 320 minutes, then 360 (6 hours) as the cap
        expected = [5, 10, 20, 40, 80, 160, 320, 360, 360]
        for attempt, minutes in enumerate(expected, start=1):
            self.sefin.fail_next(times=1, status=503, path_regex=r"^/nfse$")
            if attempt > 1:
                nfse.next_retry = self.past()
            self.run_cron()
            nfse = move.rbm_nfse_id
            self.assertEqual(nfse.attempts, attempt)
            self.assertEqual(nfse.state, "sent")
            self.assertFalse(nfse.error_codes)
            self.assertIn(abs(self.minutes_to_retry(nfse) - minutes), (0, 1), attempt)
            self.assertIn(f"next attempt in {minutes} minutes", nfse.error_message)
        nfse.next_retry = self.past()
        self.run_cron()
        self.assertEqual(nfse.state, "issued", nfse.error_message)
        self.assertEqual(len(self.sefin.by_dps), len(set(self.sefin.by_dps.values())))

    def test_5xx_with_an_error_body_is_an_outage_too(self):
        move = self.make_invoice()
        self.sefin.refuse_next("E9999", "Erro interno", status=500)
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "sent")
        self.assertFalse(nfse.error_codes)
        self.assertIn("E9999", nfse.error_message)
        nfse.next_retry = self.past()
        self.run_cron()
        self.assertEqual(nfse.state, "issued", nfse.error_message)

    def test_connection_refused(self):
        move = self.make_invoice()
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = self.company.nfse_url_restricted
        self.company.nfse_url_restricted = f"https://127.0.0.1:{port}"
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "sent")
        self.assertFalse(nfse.error_codes)
        self.assertIn("unavailable", nfse.error_message)
        self.assertGreater(nfse.next_retry, fields.Datetime.now())
        self.company.nfse_url_restricted = url
        nfse.next_retry = self.past()
        posts = len(self.posts())
        self.run_cron()
        self.assertEqual(nfse.state, "issued", nfse.error_message)
        self.assertEqual(len(self.posts()), posts + 1)

    def test_timeout_without_issue_then_retry(self):
        self.env["ir.config_parameter"].sudo().set_param("rbm_nfse.sefin_read_timeout", "1")
        move = self.make_invoice()
        issued = len(self.sefin.nfse)
        self.sefin.stall_next(2)
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "sent")
        self.assertFalse(nfse.error_codes)
        self.assertEqual(len(self.sefin.nfse), issued, "the Sefin issued nothing")
        self.assertIn("can be sent again", nfse.error_message)
        self.assertLessEqual(
            nfse.next_retry, fields.Datetime.now() + datetime.timedelta(minutes=5, seconds=5)
        )
        nfse.next_retry = self.past()
        self.run_cron()
        self.assertEqual(nfse.state, "issued", nfse.error_message)
        self.assertEqual(len(self.sefin.nfse), issued + 1)


@tagged("post_install", "-at_install")
class TestNfseLateFilter(NfseCase):
    """ "Late": not issued (to issue, sent, rejected) N days after the invoice date, N the
    company's setting; the same filter in the NFS-e list and in the invoice list."""

    def filter_domain(self, view, name):
        arch = etree.fromstring(self.env.ref(view).arch)
        return safe_eval(arch.xpath(f"//filter[@name='{name}']")[0].get("domain"))

    def test_late_follows_the_company_days(self):
        # the filter counts days in the user's time zone: so does the test (the UTC date
        # is already another day in the evening of a zone east of UTC)
        today = fields.Date.context_today(self.env.user)
        self.company.nfse_start_date = today - datetime.timedelta(days=30)
        five = self.make_invoice(invoice_date=today - datetime.timedelta(days=5))
        two = self.make_invoice(invoice_date=today - datetime.timedelta(days=2))
        issued = self.make_invoice(invoice_date=today - datetime.timedelta(days=9))
        issued.rbm_nfse_id._issue()
        self.assertEqual(issued.rbm_nfse_state, "issued")
        self.sefin.refuse_next("E0312", "Não administrado")
        rejected = self.make_invoice(invoice_date=today - datetime.timedelta(days=4))
        rejected.rbm_nfse_id._issue()
        self.assertEqual(rejected.rbm_nfse_state, "rejected")
        mine = five | two | issued | rejected
        nfse_domain = self.filter_domain("rbm_nfse.rbm_nfse_view_search", "late")
        move_domain = self.filter_domain(
            "rbm_nfse.account_move_view_search_rbm_nfse", "rbm_nfse_late"
        )

        def late():
            by_nfse = self.env["rbm.nfse"].search(nfse_domain + [("move_id", "in", mine.ids)])
            by_move = self.env["account.move"].search(move_domain + [("id", "in", mine.ids)])
            self.assertEqual(by_nfse.move_id, by_move)
            return by_move

        self.company.nfse_late_days = 3  # the default
        self.assertEqual(late(), five | rejected)
        self.assertTrue(five.rbm_nfse_id.late)
        self.assertFalse(two.rbm_nfse_id.late)
        self.company.nfse_late_days = 1
        self.assertEqual(late(), five | two | rejected)
        self.company.nfse_late_days = 4
        self.assertEqual(late(), five, "4 days ago is not more than 4 days")
        # the opposite filter, and another company's days do not count here
        others = self.env["rbm.nfse"].search([("late", "=", False), ("move_id", "in", mine.ids)])
        self.assertEqual(others.move_id, two | issued | rejected)
        with Form(self.env["res.config.settings"]) as settings:
            settings.nfse_late_days = 10
        self.assertEqual(self.company.nfse_late_days, 10)
        self.assertFalse(late())
