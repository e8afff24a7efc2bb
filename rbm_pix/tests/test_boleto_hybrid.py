import io
import re

from odoo.tests import HttpCase, tagged
from odoo.tools.pdf import PdfFileReader

from odoo.addons.rbm_dunning.engine import pix
from odoo.addons.rbm_dunning.tests.common import RbmDunningCase
from odoo.addons.rbm_pix.tests.test_connection import PspCase


@tagged("post_install", "-at_install")
class TestBoletoHybridDynamicPix(PspCase, RbmDunningCase, HttpCase):
    """The boleto híbrido carries the installment's dynamic charge (cobv) once the PSP
    created it; the static code stays the fallback."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_psp()
        cls.connection = (
            cls.env["rbm.pix.connection"].sudo().create(cls._connection_values(is_default=True))
        )
        cls.Charge = cls.env["rbm.pix.charge"].sudo()

    def setUp(self):
        super().setUp()
        self.addCleanup(self.psp.failures.clear)

    def _boleto(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(len(boleto), 1)
        return invoice, boleto

    def _pdf_text(self, boleto):
        Report = self.env["ir.actions.report"].with_context(force_report_rendering=True)
        pdf, _type = Report._render_qweb_pdf("rbm_dunning.action_report_boleto", boleto.ids)
        reader = PdfFileReader(io.BytesIO(pdf))
        return _squash("".join(page.extract_text() for page in reader.pages))

    def test_boleto_shows_the_charge(self):
        invoice, boleto = self._boleto()
        static = boleto.pix_payload
        self.assertEqual(pix.parse_payload(static).kind, "static")
        charge = self.Charge.search([("move_line_id", "=", boleto.move_line_id.id)])
        # one charge for the boleto's installment, sent after the commit
        self.assertEqual((len(charge), charge.state, charge.amount), (1, "to_send", 150.0))
        self.Charge._process_pending()
        self.assertEqual(charge.state, "active", charge.error_message)
        cobv = self.psp.cobvs[charge.txid]
        # the charge carries the collection account's fine and interest
        self.assertEqual(cobv["valor"]["multa"], {"modalidade": 2, "valorPerc": "2.00"})
        self.assertEqual(cobv["valor"]["juros"], {"modalidade": 3, "valorPerc": "1.00"})
        self.assertEqual(boleto.pix_payload, cobv["pixCopiaECola"])
        payload = pix.parse_payload(boleto.pix_payload)
        self.assertEqual(payload.kind, "dynamic")
        # the printed boleto (PDF) carries the charge's code, not the static one
        text = self._pdf_text(boleto)
        self.assertIn(_squash(charge.pix_copy_paste), text)
        self.assertNotIn(_squash(static), text)
        # and the collection email
        template = self.env.ref("rbm_dunning.mail_template_rbm_collection")
        body = template._render_field("body_html", invoice.ids)[invoice.id]
        self.assertIn(charge.pix_copy_paste, body)
        self.assertNotIn(static, body)

    def test_charge_removed_back_to_static(self):
        _invoice, boleto = self._boleto()
        static = boleto.pix_payload
        charge = self.Charge.search([("move_line_id", "=", boleto.move_line_id.id)])
        self.Charge._process_pending()
        self.assertEqual(boleto.pix_payload, charge.pix_copy_paste)
        charge._cancel()
        self.Charge._process_pending()
        self.assertEqual(charge.state, "cancelled", charge.error_message)
        self.assertEqual(boleto.pix_payload, static)
        self.assertIn(_squash(static), self._pdf_text(boleto))

    def test_no_connection_static_fallback(self):
        self.connection.active = False
        _invoice, boleto = self._boleto()
        self.assertFalse(self.Charge.search([("move_line_id", "=", boleto.move_line_id.id)]))
        payload = pix.parse_payload(boleto.pix_payload)
        self.assertEqual((payload.kind, str(payload.amount)), ("static", "150.00"))
        self.assertIn(_squash(boleto.pix_payload), self._pdf_text(boleto))

    def test_charge_not_sent_yet_static(self):
        """Until the PSP created the charge the boleto keeps the static code."""
        _invoice, boleto = self._boleto()
        self.assertEqual(pix.parse_payload(boleto.pix_payload).kind, "static")
        self.psp.fail_next("PUT", r"/cobv/", status=503, times=10)
        self.Charge._process_pending()
        self.assertEqual(pix.parse_payload(boleto.pix_payload).kind, "static")


def _squash(text):
    """``text`` without white space (the PDF breaks the code over lines)."""
    return re.sub(r"\s+", "", text)
