import unittest

from lxml import etree

from odoo import Command, fields
from odoo.tests import tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import CUSTOMER_CNPJ, ISSUER_CNPJ, SefinMixin

NS = {"n": "http://www.sped.fazenda.gov.br/nfse"}


@tagged("-standard", "rbm_l10n_br", "post_install", "-at_install")
class TestNfseBrazilianLocalization(SefinMixin, AccountTestInvoicingCommon):
    """The NFS-e of an invoice of a company on Odoo's Brazilian localization (``l10n_br``:
    the ``br`` chart, sales journals numbering invoices by fiscal document type, CNPJ as
    an identification type). Run by ``run-tests`` in its database with ``l10n_br``."""

    chart_template = "br"

    @classmethod
    def _use_chart_template(cls, company, chart_template_ref=None):
        if "br" not in cls.env["account.chart.template"]._get_chart_template_mapping():
            raise unittest.SkipTest("l10n_br is not installed")
        return super()._use_chart_template(company, chart_template_ref)

    @classmethod
    def setup_independent_company(cls, **kwargs):
        brl = cls._enable_currency("BRL")
        return super().setup_independent_company(
            currency_id=brl.id,
            country_id=cls.env.ref("base.br").id,
            street="Av. Paulista, 1000",
            city="São Paulo",
            zip="01310-100",
            **kwargs,
        )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sefin()
        cls.company = cls.company_data["company"]
        cls.configure_company(cls.env, cls.company)
        cls.product = cls.env["product.product"].create(
            {"name": "Assinatura do sistema", "type": "service", "taxes_id": [Command.clear()]}
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Cliente Exemplo Ltda",
                "is_company": True,
                "country_id": cls.env.ref("base.br").id,
                "l10n_latam_identification_type_id": cls.env.ref("l10n_br.cnpj").id,
                "vat": "11.444.777/0001-61",
                "street": "Rua Augusta, 500",
                "street2": "Consolação",
                "zip": "01304-000",
                "nfse_city_ibge": "3550308",
            }
        )

    def test_invoice_on_the_localization_gets_its_nfse(self):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create(
                        {"product_id": self.product.id, "quantity": 2, "price_unit": 249.90}
                    )
                ],
            }
        )
        move.action_post()
        # the localization's own rules hold: a fiscal document type, its numbering
        self.assertTrue(move.journal_id.l10n_latam_use_documents)
        self.assertTrue(move.l10n_latam_document_type_id)
        self.env["rbm.nfse"]._cron_issue()
        nfse = move.rbm_nfse_id
        self.assertEqual(nfse.state, "issued", nfse.error_message)
        self.assertEqual(len(nfse.access_key), 50)
        dps = etree.fromstring(nfse.dps_attachment_id.raw).find("n:infDPS", NS)
        self.assertEqual(dps.findtext("n:prest/n:CNPJ", namespaces=NS), ISSUER_CNPJ)
        self.assertEqual(dps.findtext("n:toma/n:CNPJ", namespaces=NS), CUSTOMER_CNPJ)
        # 2 x 249,90 = 499,80
        self.assertEqual(dps.findtext("n:valores/n:vServPrest/n:vServ", namespaces=NS), "499.80")
