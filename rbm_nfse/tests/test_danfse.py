import base64
import io
import re
from unittest.mock import patch

from PIL import Image

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger
from odoo.tools.pdf import PdfFileReader

from .common import CUSTOMER_CNPJ, SefinMixin

CONSULTATION = "https://www.nfse.gov.br/ConsultaPublica/?tpc=1&chave="


def pdf_text(pdf):
    """The text of every page, whitespace collapsed."""
    reader = PdfFileReader(io.BytesIO(pdf))
    text = " ".join(reader.getPage(i).extractText() for i in range(reader.getNumPages()))
    return " ".join(text.split())


@tagged("post_install", "-at_install")
class DanfseCase(SefinMixin, HttpCase):
    """Issued through the local Sefin Nacional; an HttpCase: wkhtmltopdf fetches the
    report's assets from this test server, and the portal is requested over HTTP."""

    number_offset = 900000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sefin()
        cls.company = cls.env.company
        cls.configure_company(cls.env, cls.company)
        # retentions worked out by hand below: IRRF 1.5%, CSLL 1%
        cls.product = cls.env["product.product"].create(
            {
                "name": "Assinatura do sistema",
                "type": "service",
                "taxes_id": [Command.clear()],
                "nfse_irrf_rate": 1.5,
                "nfse_csll_rate": 1.0,
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Cliente Exemplo Ltda",
                "is_company": True,
                "vat": CUSTOMER_CNPJ,
                "street": "Rua Augusta, 500",
                "street2": "Consolação",
                "zip": "01304-000",
                "nfse_city_ibge": "3550308",
                "email": "financeiro@cliente.example.com",
            }
        )
        cls.env["rbm.nfse"]._cron_issue(batch_size=1000)

    def setUp(self):
        super().setUp()
        # the Sefin keeps what it issued across rolled-back tests: a fresh DPS series range
        DanfseCase.number_offset += 1000
        counter = self.env["rbm.nfse.counter"]
        counter._reserve(self.company, "1")
        counter.search([("company_id", "=", self.company.id), ("series", "=", "1")]).write(
            {"last_number": DanfseCase.number_offset}
        )

    def issue(self, amount=1234.56, partner=None, render=True):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": (partner or self.customer).id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create(
                        {"product_id": self.product.id, "quantity": 1, "price_unit": amount}
                    )
                ],
            }
        )
        move.action_post()
        cron = self.env.ref("rbm_nfse.ir_cron_rbm_nfse_danfse")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        move.rbm_nfse_id._issue()
        self.assertEqual(move.rbm_nfse_state, "issued", move.rbm_nfse_id.error_message)
        # the issue wakes the DANFSe run up, which attaches it (wkhtmltopdf outside the
        # issuing run); it complains on stderr about its unpatched Qt build
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers + 1
        )
        if render:
            with mute_logger("odoo.addons.base.models.ir_actions_report"):
                self.env["account.move"]._cron_rbm_nfse_danfse()
        return move

    def attachments(self, move, prefix):
        return self.env["ir.attachment"].search(
            [
                ("res_model", "=", "account.move"),
                ("res_id", "=", move.id),
                ("name", "=like", f"{prefix}%"),
            ]
        )


class TestDanfse(DanfseCase):
    def test_issue_attaches_the_danfse_beside_the_xml(self):
        move = self.issue()
        nfse = move.rbm_nfse_id
        key = nfse.access_key
        self.assertEqual(len(key), 50)
        danfse = self.attachments(move, "DANFSe")
        xml = self.attachments(move, "NFSe")
        self.assertEqual(danfse.name, f"DANFSe{key}.pdf")
        self.assertEqual(danfse.mimetype, "application/pdf")
        self.assertEqual(xml, nfse.nfse_attachment_id)
        self.assertTrue(danfse.raw.startswith(b"%PDF"))
        text = pdf_text(danfse.raw)
        # the access key in groups of four, the NFS-e and DPS numbers
        self.assertIn(" ".join(re.findall(".{1,4}", key)), text)
        self.assertIn(f"Número da NFS-e {nfse.nfse_number}", text)
        self.assertIn(f"Número da DPS {nfse.number}", text)
        self.assertIn("Competência da NFS-e " + fields.Date.today().strftime("%d/%m/%Y"), text)
        self.assertIn("NFS-e SEM VALIDADE JURÍDICA", text)  # restricted production
        self.assertIn("Município de São Paulo", text)
        self.assertIn("11.222.333/0001-81", text)  # prestador
        self.assertIn("11.444.777/0001-61", text)  # tomador
        self.assertIn("Cliente Exemplo Ltda", text)
        self.assertIn("01.05.01", text)  # cTribNac 010501
        self.assertIn("1.1502.20.00", text)  # NBS 115022000
        # by hand, R$ 1.234,56: ISS 5% = 61,728 -> 61,73 (not withheld); IRRF 1.5% =
        # 18,5184 -> 18,52; CSLL 1% = 12,3456 -> 12,35; retentions 30,87; net 1.203,69;
        # 2026 test year: CBS 0.9% = 11,11, IBS UF 0.1% = 1,23, IBS mun 0%: total 1.246,90
        for expected in (
            "R$ 1.234,56",
            "5,00%",
            "R$ 61,73",
            "R$ 18,52",
            "R$ 12,35",
            "R$ 30,87",
            "R$ 1.203,69",
            "R$ 11,11",
            "R$ 1,23",
            "R$ 1.246,90",
        ):
            self.assertIn(expected, text)
        self.assertNotIn("CANCELADA", text)

    def test_rendered_again_only_when_asked(self):
        move = self.issue(amount=100)
        nfse = move.rbm_nfse_id
        first = self.attachments(move, "DANFSe")
        self.assertEqual(len(first), 1)
        # the run finds nothing more to do
        self.assertEqual(self.env["account.move"]._cron_rbm_nfse_danfse(), 0)
        self.assertEqual(move._rbm_nfse_attach_danfse(nfse), first)
        self.assertEqual(move._rbm_nfse_documents(), first | nfse.nfse_attachment_id)
        self.assertEqual(len(self.attachments(move, "DANFSe")), 1)

    def test_the_run_attaches_in_batches(self):
        Move = self.env["account.move"]
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            Move._cron_rbm_nfse_danfse(batch_size=1000)  # what the database holds
        moves = [self.issue(amount=10 + i, render=False) for i in range(3)]
        cron = self.env.ref("rbm_nfse.ir_cron_rbm_nfse_danfse")
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            self.assertEqual(Move._cron_rbm_nfse_danfse(batch_size=2), 2)
            # work remains: the run wakes itself up again
            self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
            self.assertEqual(Move._cron_rbm_nfse_danfse(batch_size=2), 1)
            self.assertEqual(Move._cron_rbm_nfse_danfse(batch_size=2), 0)
        for move in moves:
            self.assertEqual(len(self.attachments(move, "DANFSe")), 1)

    def test_printed_from_the_xml_not_from_the_invoice(self):
        move = self.issue(amount=150)
        nfse = move.rbm_nfse_id
        # the customer renamed after the issue: the NFS-e still names whom it was issued to
        self.customer.name = "Nome Novo S.A."
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            danfse = move._rbm_nfse_attach_danfse(nfse, refresh=True)
        text = pdf_text(danfse.raw)
        self.assertIn("Cliente Exemplo Ltda", text)
        self.assertNotIn("Nome Novo", text)
        self.assertEqual(len(self.attachments(move, "DANFSe")), 1)

    def test_a_rendering_failure_never_undoes_the_issue(self):
        """The Sefin issued: whatever happens to the PDF, the NFS-e is kept as issued with
        its XML, and the DANFSe is rendered when next asked for."""
        move = self.issue(amount=160, render=False)
        Report = type(self.env["ir.actions.report"])
        with (
            patch.object(Report, "_render_qweb_pdf", side_effect=OSError("wkhtmltopdf died")),
            mute_logger("odoo.addons.rbm_nfse.models.account_move"),
        ):
            self.assertEqual(self.env["account.move"]._cron_rbm_nfse_danfse(), 0)
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "issued")
        self.assertTrue(nfse.access_key)
        self.assertEqual(self.attachments(move, "NFSe"), nfse.nfse_attachment_id)
        self.assertFalse(self.attachments(move, "DANFSe"))
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            documents = move._rbm_nfse_documents()
        self.assertEqual(documents, self.attachments(move, "DANFSe") | nfse.nfse_attachment_id)
        self.assertIn(nfse.nfse_number, pdf_text(self.attachments(move, "DANFSe").raw))

    def test_qr_code_targets_the_national_consultation(self):
        move = self.issue(amount=250)
        nfse = move.rbm_nfse_id
        html, _type = self.env["ir.actions.report"]._render_qweb_html(
            "rbm_nfse.action_report_danfse", nfse.ids
        )
        html = html.decode()
        url = CONSULTATION + nfse.access_key
        self.assertIn(f'data-url="{url.replace("&", "&amp;")}"', html)
        # the image beside it: a 300 x 300 PNG (Odoo's QR encoder, reportlab)
        found = re.search(r'class="o_rbm_danfse_qr" src="data:image/png;base64,([^"]+)"', html)
        self.assertTrue(found)
        image = Image.open(io.BytesIO(base64.b64decode(found.group(1))))
        self.assertEqual((image.format, image.size), ("PNG", (300, 300)))
        # the same report from the invoice's button
        action = move.action_rbm_nfse_danfse()
        self.assertEqual(action["report_name"], "rbm_nfse.report_danfse")
        self.assertEqual(action["context"]["active_ids"], nfse.ids)

    def test_no_danfse_before_the_nfse_is_issued(self):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create({"product_id": self.product.id, "price_unit": 80})
                ],
            }
        )
        move.action_post()
        self.assertEqual(move.rbm_nfse_state, "to_issue")
        with self.assertRaisesRegex(UserError, move.name):
            move.action_rbm_nfse_danfse()
        with self.assertRaisesRegex(UserError, move.name):
            self.env["ir.actions.report"]._render_qweb_html(
                "rbm_nfse.action_report_danfse", move.rbm_nfse_id.ids
            )
        self.assertFalse(move._rbm_nfse_documents())

    def test_cancelled_nfse_prints_its_watermark(self):
        move = self.issue(amount=300)
        nfse = move.rbm_nfse_id
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            nfse._cancel("1", "Valor informado errado")
        self.assertEqual(nfse.state, "cancelled")
        danfse = self.attachments(move, "DANFSe")
        self.assertEqual(len(danfse), 1)
        self.assertIn("CANCELADA", pdf_text(danfse.raw))
        # a cancelled NFS-e goes with no e-mail
        self.assertFalse(move._rbm_nfse_documents())

    def test_replaced_nfse_prints_substituida(self):
        move = self.issue(amount=300)
        old = move.rbm_nfse_id
        self.assertNotIn(
            "SUBSTITU", pdf_text(self.attachments(move, f"DANFSe{old.access_key}").raw)
        )
        self.customer.street = "Rua Augusta, 1500"
        new = old._replace("99", "Correção do endereço do tomador")
        self.assertEqual(new.state, "issued", new.error_message)
        self.assertEqual(old.replaced_by_id, new)
        # the replacement wakes the DANFSe run: the replaced one printed again, watermarked
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            self.env["account.move"]._cron_rbm_nfse_danfse()
        old_pdf = pdf_text(self.attachments(move, f"DANFSe{old.access_key}").raw)
        self.assertIn("SUBSTITUÍDA", old_pdf)
        self.assertNotIn("CANCELADA", old_pdf)
        new_pdf = pdf_text(self.attachments(move, f"DANFSe{new.access_key}").raw)
        self.assertNotIn("SUBSTITUÍDA", new_pdf)
        self.assertIn(old.access_key, new_pdf.replace(" ", ""))
        self.assertEqual(len(self.attachments(move, "DANFSe")), 2)

    def test_who_may_print(self):
        move = self.issue(amount=90)
        nfse = move.rbm_nfse_id
        render = "rbm_nfse.action_report_danfse"
        invoicing = self.env.ref("account.group_account_invoice")
        accountant = self.env["res.users"].create(
            {
                "name": "Faturista",
                "login": "danfse_faturista",
                "groups_id": [Command.set([invoicing.id])],
            }
        )
        html, _type = (
            self.env["ir.actions.report"].with_user(accountant)._render_qweb_html(render, nfse.ids)
        )
        self.assertIn(nfse.access_key, html.decode())
        # a portal user (even the invoice's customer) reads no NFS-e record
        portal = self.env["res.users"].create(
            {
                "name": "Portal",
                "login": "danfse_portal",
                "partner_id": self.customer.id,
                "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
            }
        )
        with self.assertRaises(AccessError):
            self.env["ir.actions.report"].with_user(portal)._render_qweb_html(render, nfse.ids)
        # an invoicing user of another company only
        other = self.env["res.company"].create({"name": "Outra Empresa Ltda"})
        stranger = self.env["res.users"].create(
            {
                "name": "Faturista da outra",
                "login": "danfse_outra",
                "company_id": other.id,
                "company_ids": [Command.set(other.ids)],
                "groups_id": [Command.set([invoicing.id])],
            }
        )
        with self.assertRaises(AccessError):
            self.env["ir.actions.report"].with_user(stranger).with_company(other)._render_qweb_html(
                render, nfse.ids
            )


class TestDanfseEmail(DanfseCase):
    def wizard(self, move):
        return Form(
            self.env["account.move.send.wizard"].with_context(
                active_model="account.move", active_ids=move.ids
            )
        )

    def test_invoice_email_carries_the_danfse_and_the_xml(self):
        move = self.issue(amount=500)
        nfse = move.rbm_nfse_id
        danfse = self.attachments(move, "DANFSe")
        names = {danfse.name: danfse.raw, nfse.nfse_attachment_id.name: nfse.nfse_attachment_id.raw}

        def sent(message):
            """The e-mail carries copies of both documents (Odoo's sending copies them)."""
            files = {a.name: a.raw for a in message.attachment_ids}
            return all(files.get(name) == raw for name, raw in names.items())

        wizard = self.wizard(move)
        widget = {item["name"] for item in wizard.mail_attachments_widget}
        self.assertIn(f"DANFSe{nfse.access_key}.pdf", widget)
        self.assertIn(f"NFSe{nfse.access_key}.xml", widget)
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            wizard.save().action_send_and_print()
        message = move.message_ids.filtered(sent)
        self.assertEqual(len(message), 1, "the sent e-mail carries both documents")
        self.assertIn("financeiro@cliente.example.com", message.partner_ids.mapped("email"))
        # sent again: the same attachments, no copy
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            self.wizard(move).save().action_send_and_print()
        self.assertEqual(len(self.attachments(move, "DANFSe")), 1)
        self.assertEqual(len(self.attachments(move, "NFSe")), 1)
        self.assertEqual(len(move.message_ids.filtered(sent)), 2)
        self.assertEqual(nfse.nfse_attachment_id.res_model, "account.move")

    def test_sending_renders_a_danfse_not_attached_yet(self):
        move = self.issue(amount=510, render=False)
        nfse = move.rbm_nfse_id
        # the invoice's chatter lists its documents without rendering anything
        self.assertEqual(
            move._get_mail_thread_data_attachments() & nfse.nfse_attachment_id,
            nfse.nfse_attachment_id,
        )
        self.assertFalse(self.attachments(move, "DANFSe"))
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            self.wizard(move).save().action_send_and_print()
        danfse = self.attachments(move, "DANFSe")
        self.assertEqual(len(danfse), 1)
        sent = move.message_ids.attachment_ids.filtered(lambda a: a.name == danfse.name)
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent.raw, danfse.raw)

    def test_no_nfse_documents_when_not_issued(self):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create({"product_id": self.product.id, "price_unit": 70})
                ],
            }
        )
        move.action_post()
        names = {item["name"] for item in self.wizard(move).mail_attachments_widget}
        self.assertFalse([name for name in names if "DANFSe" in name or name.endswith(".xml")])


class TestDanfsePortal(DanfseCase):
    def portal_user(self, login, partner):
        return self.env["res.users"].create(
            {
                "name": partner.name,
                "login": login,
                "password": login,
                "partner_id": partner.id,
                "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
            }
        )

    def test_invoice_page_shows_the_nfse_to_its_customer(self):
        move = self.issue(amount=420)
        nfse = move.rbm_nfse_id
        move._portal_ensure_token()
        page = self.url_open(move.get_portal_url())
        self.assertEqual(page.status_code, 200)
        text = page.text.replace("&amp;", "&")
        self.assertIn(nfse.access_key, text)
        self.assertIn(f"NFS-e <span>{nfse.nfse_number}</span>", text)
        self.assertIn(move.get_portal_url(suffix="/nfse/danfse"), text)
        self.assertIn(move.get_portal_url(suffix="/nfse/xml"), text)
        # the documents, with the invoice's access token
        response = self.url_open(move.get_portal_url(suffix="/nfse/danfse"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        self.assertIn(f"DANFSe{nfse.access_key}.pdf", response.headers["Content-Disposition"])
        self.assertEqual(response.content, self.attachments(move, "DANFSe").raw)
        response = self.url_open(move.get_portal_url(suffix="/nfse/xml"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/xml")
        self.assertEqual(response.content, nfse.nfse_attachment_id.raw)
        # logged in as the customer, no token needed
        self.portal_user("cliente_danfse", self.customer)
        self.authenticate("cliente_danfse", "cliente_danfse")
        response = self.url_open(f"/my/invoices/{move.id}/nfse/danfse")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.content.startswith(b"%PDF"))

    def test_nobody_else_gets_the_documents(self):
        move = self.issue(amount=430)
        move._portal_ensure_token()
        other = self.env["res.partner"].create({"name": "Outro Cliente", "email": "o@x.example"})
        self.portal_user("outro_danfse", other)
        with mute_logger("odoo.http"):
            for kind in ("danfse", "xml"):
                url = f"/my/invoices/{move.id}/nfse/{kind}"
                # public, without a token or with a wrong one
                self.assertEqual(self.url_open(url).status_code, 403)
                self.assertEqual(self.url_open(url + "?access_token=wrong").status_code, 403)
                # an invoice that does not exist
                self.assertEqual(
                    self.url_open(f"/my/invoices/999999999/nfse/{kind}").status_code, 404
                )
            # another customer, logged in
            self.authenticate("outro_danfse", "outro_danfse")
            for kind in ("danfse", "xml"):
                self.assertEqual(
                    self.url_open(f"/my/invoices/{move.id}/nfse/{kind}").status_code, 403
                )
            self.assertNotIn(
                move.rbm_nfse_id.access_key, self.url_open(f"/my/invoices/{move.id}").text
            )

    def test_no_documents_while_not_issued(self):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create({"product_id": self.product.id, "price_unit": 60})
                ],
            }
        )
        move.action_post()
        move._portal_ensure_token()
        page = self.url_open(move.get_portal_url())
        self.assertEqual(page.status_code, 200)
        self.assertNotIn('id="rbm_nfse"', page.text)
        with mute_logger("odoo.http"):
            response = self.url_open(move.get_portal_url(suffix="/nfse/danfse"))
        self.assertEqual(response.status_code, 404)

    def test_a_cancelled_nfse_stays_visible_with_its_watermark(self):
        move = self.issue(amount=450)
        nfse = move.rbm_nfse_id
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            nfse._cancel("2", "Serviço não foi prestado ao cliente")
        move._portal_ensure_token()
        page = self.url_open(move.get_portal_url()).text
        self.assertIn(nfse.access_key, page)
        self.assertIn("text-bg-danger o_rbm_nfse_state", page)
        response = self.url_open(move.get_portal_url(suffix="/nfse/danfse"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("CANCELADA", pdf_text(response.content))

    def test_portal_tour(self):
        move = self.issue(amount=440)
        self.portal_user("tour_danfse", self.customer)
        self.start_tour(f"/my/invoices/{move.id}", "rbm_nfse_portal_tour", login="tour_danfse")


class TestDanfseTour(DanfseCase):
    def test_danfse_buttons(self):
        move = self.issue(amount=450)
        with mute_logger("odoo.addons.base.models.ir_actions_report"):
            self.start_tour(
                f"/odoo/action-account.action_move_out_invoice_type/{move.id}",
                "rbm_nfse_danfse_tour",
                login="admin",
            )
