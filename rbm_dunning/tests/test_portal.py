import io

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger
from odoo.tools.pdf import PdfFileReader

from .common import RbmDunningCase


@tagged("post_install", "-at_install")
class TestBoletoPortal(RbmDunningCase, HttpCase):
    def test_invoice_page_shows_the_typeable_line(self):
        invoice = self._bill_contract()
        boleto = invoice.rbm_boleto_ids
        response = self.url_open(invoice.get_portal_url())
        self.assertEqual(response.status_code, 200)
        page = response.text
        self.assertIn(boleto.typeable_line, page)
        self.assertIn('class="btn btn-secondary o_rbm_copy"', page)
        self.assertIn(boleto.pix_payload, page)
        self.assertIn(invoice.get_portal_url(suffix="/boleto"), page.replace("&amp;", "&"))
        # the boleto itself, with the invoice's access token only
        response = self.url_open(invoice.get_portal_url(suffix="/boleto"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        self.assertIn(boleto.typeable_line, response.text)
        # a wrong token gets nothing
        response = self.url_open(f"/my/invoices/{invoice.id}/boleto?access_token=wrong")
        self.assertNotIn(boleto.typeable_line, response.text)
        # paid invoices show no boleto
        invoice.rbm_boleto_ids.state = "paid"
        self.assertNotIn(boleto.typeable_line, self.url_open(invoice.get_portal_url()).text)

    def test_boleto_pdf_file(self):
        """A real PDF (wkhtmltopdf fetches the report assets from this test
        server, hence an HttpCase), its text holding the typeable line."""
        boleto = self._bill_contract().rbm_boleto_ids
        # wkhtmltopdf complains on stderr about its unpatched Qt build
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            pdf, _type = (
                self.env["ir.actions.report"]
                .with_context(force_report_rendering=True)
                ._render_qweb_pdf("rbm_dunning.action_report_boleto", boleto.ids)
            )
        self.assertTrue(pdf.startswith(b"%PDF"))
        text = PdfFileReader(io.BytesIO(pdf)).getPage(0).extractText()
        self.assertIn(boleto.typeable_line, " ".join(text.split()))
