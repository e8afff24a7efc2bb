import datetime
import threading
from unittest.mock import patch

from lxml import etree
from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.api import Transaction
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..models import rbm_nfse as rbm_nfse_module
from . import test_nfse_concurrency
from .common import CUSTOMER_CNPJ, NfseCase, SefinMixin

NS = {"n": "http://www.sped.fazenda.gov.br/nfse"}


@tagged("post_install", "-at_install")
class TestNfseReplace(NfseCase):
    """Substituição: the wizard on an issued NFS-e issues a substitute DPS (group subst) from
    the invoice as it is now; the local Sefin cancels the replaced NFS-e (event e105102)."""

    def setUp(self):
        super().setUp()
        # the messages are compared in the source language, whatever the admin's language
        self.env = self.env(context=dict(self.env.context, lang="en_US"))

    def issued_invoice(self, amount=1000.0):
        move = self.make_invoice(amount=amount)
        self.run_cron()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "issued", nfse.error_message)
        return move, nfse

    def replace(self, nfse, code="99", reason="Correção do endereço do tomador"):
        action = nfse.action_replace()
        self.assertEqual(action["res_model"], "rbm.nfse.replace.wizard")
        wizard = Form(self.env[action["res_model"]].with_context(action["context"]))
        wizard.reason_code = code
        if reason is not None:
            wizard.reason = reason
        result = wizard.save().action_replace()
        return self.env["rbm.nfse"].browse(result["res_id"])

    def test_replace_end_to_end(self):
        move, old = self.issued_invoice()
        old_key, old_number = old.access_key, old.nfse_number
        # the correction: the customer's address was wrong on the issued NFS-e
        self.customer.street = "Rua Augusta, 1500"
        posts = len(self.posts())
        new = self.replace(old)
        self.assertEqual(len(self.posts()), posts + 1, "one DPS sent")
        # the substitute is issued and is now the invoice's NFS-e
        self.assertEqual(new.state, "issued", new.error_message)
        self.assertEqual(new.replaces_id, old)
        self.assertEqual(new.replace_reason_code, "99")
        self.assertEqual(move.rbm_nfse_id, new)
        self.assertEqual(move.rbm_nfse_state, "issued")
        self.assertEqual(new.number, old.number + 1, "next DPS number of the series")
        dps = etree.fromstring(new.dps_attachment_id.raw).find("n:infDPS", NS)
        self.assertEqual(dps.findtext("n:subst/n:chSubstda", namespaces=NS), old_key)
        self.assertEqual(dps.findtext("n:subst/n:cMotivo", namespaces=NS), "99")
        self.assertEqual(dps.findtext("n:toma/n:end/n:nro", namespaces=NS), "1500")
        # the replaced one: cancelled by substitution at the Sefin and here
        self.assertEqual(self.sefin.nfse[old_key]["replaced_by"], new.access_key)
        self.assertTrue(self.sefin.nfse[old_key]["cancelled"])
        self.assertEqual(old.state, "cancelled")
        self.assertEqual(old.replaced_by_id, new)
        self.assertEqual(old.cancel_reason, "Correção do endereço do tomador")
        event = etree.fromstring(old.cancel_attachment_id.raw)
        request = event.find("n:infEvento/n:pedRegEvento/n:infPedReg", NS)
        self.assertEqual(request.findtext("n:chNFSe", namespaces=NS), old_key)
        self.assertEqual(
            request.findtext("n:e105102/n:chSubstituta", namespaces=NS), new.access_key
        )
        # the invoice's chatter tells both
        bodies = move.message_ids.mapped("body")
        self.assertTrue(any(new.access_key in body for body in bodies))
        replaced_note = [b for b in bodies if "e105102" in b]
        self.assertEqual(len(replaced_note), 1)
        self.assertIn(old_number, replaced_note[0])
        self.assertIn(new.nfse_number, replaced_note[0])
        # an NFS-e replaced is not replaced again, nor cancelled
        with self.assertRaisesRegex(UserError, "Only an issued NFS-e can be replaced"):
            old._replace("99", "Outra correção qualquer aqui")
        # the substitute itself may be replaced (a chain)
        newer = self.replace(new, code="01", reason=None)
        self.assertEqual(newer.state, "issued", newer.error_message)
        self.assertEqual(new.replaced_by_id, newer)
        self.assertEqual(move.rbm_nfse_id, newer)

    def test_refusals_before_sending(self):
        move, old = self.issued_invoice()
        posts = len(self.posts())
        # "99 - Outros" needs its explanation: the form requires it ...
        action = old.action_replace()
        wizard = Form(self.env[action["res_model"]].with_context(action["context"]))
        wizard.reason_code = "99"
        with self.assertRaises(AssertionError):
            wizard.save()
        # ... and so does the method behind it (RPC)
        with self.assertRaisesRegex(UserError, "replaced NFS-e.*needs its explanation"):
            old._replace("99", "")
        with self.assertRaisesRegex(UserError, "15 to 255"):
            old._replace("02", "curto")
        # another taker: refused with the customer's name
        self.customer.vat = "52998224725"
        with self.assertRaisesRegex(UserError, "Cliente Exemplo Ltda.*52998224725"):
            old._replace("01", "")
        self.assertEqual(len(self.posts()), posts, "nothing sent")
        self.assertFalse(self.env["rbm.nfse"].search([("replaces_id", "=", old.id)]))
        self.assertEqual(old.state, "issued")

    def test_refused_by_the_sefin_then_discarded(self):
        move, old = self.issued_invoice()
        window = self.sefin.replace_window
        self.sefin.replace_window = datetime.timedelta(seconds=-1)
        try:
            new = self.replace(old)
        finally:
            self.sefin.replace_window = window
        self.assertEqual(new.state, "rejected")
        # not a documented code: the Sefin's own words, with the invoice
        self.assertEqual(new.error_codes, "X0204")
        self.assertIn(move.name, new.error_message)
        self.assertIn("Prazo para substituição da NFS-e expirado", new.error_message)
        self.assertEqual(old.state, "issued", "the replaced NFS-e is unchanged")
        self.assertFalse(self.sefin.nfse[old.access_key]["cancelled"])
        # a second replacement waits for this one
        with self.assertRaisesRegex(UserError, "already being replaced"):
            old._replace("01", "")
        new.action_discard_replacement()
        self.assertEqual(new.state, "cancelled")
        self.assertEqual(move.rbm_nfse_id, old)
        self.assertEqual(move.rbm_nfse_state, "issued")
        # then it can be replaced again
        newer = self.replace(old, code="01", reason=None)
        self.assertEqual(newer.state, "issued", newer.error_message)
        self.assertEqual(old.replaced_by_id, newer)

    def test_outage_then_retry_keeps_one_substitute(self):
        move, old = self.issued_invoice()
        self.sefin.fail_next(times=1, status=503, path_regex=r"^/nfse$")
        new = self.replace(old)
        self.assertEqual(new.state, "sent")
        self.assertFalse(new.error_codes, "an outage is not a rejection")
        self.assertEqual(old.state, "issued")
        # double submit while the first is pending: refused, and the database agrees
        with self.assertRaisesRegex(UserError, "already being replaced"):
            old._replace("01", "")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["rbm.nfse"].create({"move_id": move.id, "replaces_id": old.id})
            self.env.flush_all()
        new.next_retry = self.past()
        self.run_cron()
        self.assertEqual(new.state, "issued", new.error_message)
        self.assertEqual(old.state, "cancelled")
        self.assertEqual(old.replaced_by_id, new)
        self.assertEqual(move.rbm_nfse_id, new)

    def test_only_staff_replace(self):
        _move, old = self.issued_invoice()
        portal = new_test_user(self.env, login="nfse_portal_replace", groups="base.group_portal")
        with self.assertRaises(AccessError):
            old.with_user(portal).action_replace()
        wizard = self.env["rbm.nfse.replace.wizard"].create(
            {"nfse_id": old.id, "reason_code": "01"}
        )
        with self.assertRaises(AccessError):
            wizard.with_user(portal).action_replace()
        reader = new_test_user(
            self.env, login="nfse_reader_replace", groups="account.group_account_readonly"
        )
        with self.assertRaises(AccessError):
            old.with_user(reader).action_replace()
        self.assertEqual(old.state, "issued")


@tagged("post_install", "-at_install")
class TestNfseReplaceTour(SefinMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sefin()
        cls.configure_company(cls.env, cls.env.company)
        # no DPS Id of the other test classes (the Sefin keeps what it issued)
        counter = cls.env["rbm.nfse.counter"]
        counter._reserve(cls.env.company, "1")
        counter.search([("company_id", "=", cls.env.company.id), ("series", "=", "1")]).write(
            {"last_number": 850000}
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Assinatura Tour", "type": "service", "taxes_id": [Command.clear()]}
        )
        # invoices of the last days get their NFS-e; the tours read the source language
        cls.env.company.nfse_start_date = fields.Date.today() - datetime.timedelta(days=30)
        cls.env.ref("base.user_admin").lang = "en_US"

    def invoice(self, name, days_ago=0):
        partner = self.env["res.partner"].create(
            {
                "name": name,
                "is_company": True,
                "vat": CUSTOMER_CNPJ,
                "street": "Rua Augusta, 500",
                "street2": "Consolação",
                "zip": "01304000",
                "nfse_city_ibge": "3550308",
            }
        )
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": fields.Date.today() - datetime.timedelta(days=days_ago),
                "invoice_line_ids": [
                    Command.create(
                        {"product_id": self.product.id, "quantity": 1, "price_unit": 450}
                    )
                ],
            }
        )
        move.action_post()
        return move

    def test_replace_tour(self):
        move = self.invoice("Cliente Tour Substituição Ltda")
        old = move.rbm_nfse_id
        old._issue()
        self.assertEqual(old.state, "issued", old.error_message)
        self.start_tour(
            f"/odoo/action-account.action_move_out_invoice_type/{move.id}",
            "rbm_nfse_replace_tour",
            login="admin",
        )
        self.assertEqual(old.state, "cancelled")
        new = old.replaced_by_id
        self.assertEqual(new.state, "issued", new.error_message)
        self.assertEqual(new.replace_reason_code, "01")
        self.assertEqual(new.replace_reason, "Endereço do tomador corrigido na nota")
        self.assertEqual(move.rbm_nfse_id, new)
        self.assertEqual(self.sefin.nfse[old.access_key]["replaced_by"], new.access_key)

    def test_late_filter_tour(self):
        self.env.company.nfse_late_days = 3
        late = self.invoice("Cliente Atrasado Ltda", days_ago=5)
        recent = self.invoice("Cliente Recente Ltda", days_ago=1)
        self.assertEqual(late.rbm_nfse_id.state, "to_issue")
        self.assertEqual(recent.rbm_nfse_id.state, "to_issue")
        self.start_tour(
            "/odoo/action-rbm_nfse.rbm_nfse_action", "rbm_nfse_late_filter_tour", login="admin"
        )


@tagged("post_install", "-at_install")
class TestNfseReplaceConcurrent(test_nfse_concurrency.TestConcurrentIssuing):
    """Two users press "Issue Substitute" on the same NFS-e at the same time, each in its own
    transaction committing as the wizard does: one substitute, the other user told in words."""

    # the issuing race of the parent class runs there, not again here
    test_two_runs_issue_each_invoice_once = None

    def test_double_submit_one_substitute(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            original = env["account.move"].browse(self.move_ids[0]).rbm_nfse_id
            original._issue()
            self.assertEqual(original.state, "issued", original.error_message)
            original_id, original_key = original.id, original.access_key
        barrier = threading.Barrier(2)
        outcomes = []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {"lang": "en_US"})
                    nfse = env["rbm.nfse"].browse(original_id)
                    nfse.mapped("state")  # open the snapshot
                    barrier.wait(timeout=20)
                    substitute = nfse._replace("01", "")
                    outcomes.append(("ok", substitute.id))
            except UserError as error:
                outcomes.append(("refused", str(error)))
            except Exception as error:  # noqa: BLE001 - reported in the assertion
                outcomes.append(("error", repr(error)))

        threads = [threading.Thread(target=worker) for _i in range(2)]
        with (
            patch.object(rbm_nfse_module, "auto_commit_allowed", return_value=True),
            mute_logger("odoo.sql_db"),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(any(thread.is_alive() for thread in threads), "a worker hung")
        kinds = sorted(kind for kind, _value in outcomes)
        self.assertEqual(kinds, ["ok", "refused"], outcomes)
        refusal = next(value for kind, value in outcomes if kind == "refused")
        self.assertRegex(refusal, "being replaced")
        with self.registry.cursor() as cr:
            cr.execute("SELECT id, state FROM rbm_nfse WHERE replaces_id = %s", [original_id])
            substitutes = cr.fetchall()
            cr.execute("SELECT state, replaced_by_id FROM rbm_nfse WHERE id = %s", [original_id])
            state, replaced_by = cr.fetchone()
        self.assertEqual(len(substitutes), 1, "one substitute")
        self.assertEqual(substitutes[0][1], "issued")
        self.assertEqual((state, replaced_by), ("cancelled", substitutes[0][0]))
        self.assertTrue(self.sefin.nfse[original_key]["cancelled"])
        self.assertEqual(
            sum(1 for record in self.sefin.nfse.values() if record.get("replaced_by")), 1
        )
