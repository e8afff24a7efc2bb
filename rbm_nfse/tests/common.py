import base64
import datetime
from pathlib import Path
from urllib.parse import urlsplit

from odoo import Command, fields
from odoo.tests import Form, TransactionCase
from odoo.tests.common import _super_send

from .sefin_server import SefinServer, make_pki

ISSUER_CNPJ = "11222333000181"
CUSTOMER_CNPJ = "11444777000161"


class SefinMixin:
    """A local Sefin Nacional with mutual TLS for the whole class, and Odoo's request guard
    letting the calls to it through untouched (the client passes (connect, read) timeouts)."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if urlsplit(r.url).hostname == "127.0.0.1":
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    @classmethod
    def start_sefin(cls):
        cls.pki = make_pki(cnpj=ISSUER_CNPJ)
        cls.sefin = SefinServer(pki=cls.pki, unknown_service_codes={"990101"}).start()
        cls.addClassCleanup(cls.sefin.stop)

    @classmethod
    def configure_company(cls, env, company, moment="post"):
        """The company's NFS-e settings, entered as an administrator would."""
        params = env["ir.config_parameter"].sudo()
        params.set_param("rbm_nfse.sefin_ca_file", cls.pki.ca_cert)
        params.set_param("rbm_nfse.sefin_read_timeout", "5")
        company.write(
            {
                "vat": "11.222.333/0001-81",
                "nfse_url_restricted": cls.sefin.base_url,
            }
        )
        with Form(env["res.config.settings"].with_company(company)) as settings:
            settings.nfse_enabled = True
            settings.nfse_municipal_registration = "1234567"
            settings.nfse_city_ibge = "3550308"
            settings.nfse_regime = "normal"
            settings.nfse_environment = "2"
            settings.nfse_series = "1"
            settings.nfse_issue_moment = moment
            settings.nfse_start_date = fields.Date.today()
            settings.nfse_service_code = "010501"
            settings.nfse_nbs_code = "115022000"
            settings.nfse_iss_rate = 5.0
            settings.nfse_ibscbs_cst = "000"
            settings.nfse_ibscbs_class = "000001"
            settings.nfse_operation_indicator = "030101"
        with Form(env["rbm.nfse.certificate"].with_company(company)) as upload:
            upload.file = base64.b64encode(Path(cls.pki.client_p12).read_bytes())
            upload.password = cls.pki.client_p12_password
        return upload.record


class NfseCase(SefinMixin, TransactionCase):
    number_offset = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sefin()
        cls.company = cls.env.company
        cls.certificate = cls.configure_company(cls.env, cls.company)
        cls.product = cls.env["product.product"].create(
            {"name": "Assinatura do sistema", "type": "service", "taxes_id": [Command.clear()]}
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
        # what the database already holds (demo invoices) is dealt with before the tests
        cls.env["rbm.nfse"]._cron_issue(batch_size=1000)

    def setUp(self):
        super().setUp()
        # each test rolls its DPS numbers back, the Sefin keeps what it issued: a test
        # starts its series where no other test went (a reused DPS Id is a duplicate)
        NfseCase.number_offset += 1000
        counter = self.env["rbm.nfse.counter"]
        counter._reserve(self.company, "1")
        counter.search([("company_id", "=", self.company.id), ("series", "=", "1")]).write(
            {"last_number": NfseCase.number_offset}
        )

    def make_invoice(self, amount=1000.0, partner=None, post=True, due=None, **values):
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
                **values,
            }
        )
        if due:
            move.invoice_date_due = due
        if post:
            move.action_post()
        return move

    def run_cron(self, **kwargs):
        return self.env["rbm.nfse"]._cron_issue(**kwargs)

    def posts(self):
        return [r for r in self.sefin.requests if r == ("POST", "/nfse")]

    @staticmethod
    def past():
        return fields.Datetime.now() - datetime.timedelta(minutes=1)
