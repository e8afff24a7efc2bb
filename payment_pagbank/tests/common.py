import uuid

from odoo.tests import HttpCase

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.payment_pagbank import const

from .fake_pagbank import FakePagBank

TOKEN = "pagbank-test-token-6f1c2d3e4a5b"
COMPANY_CNPJ = "16727230000197"


class PagBankCase(AccountTestInvoicingCommon, HttpCase):
    """A Brazilian company (BRL) with a PagBank provider in test mode whose API is a local
    server speaking the PagBank Orders API (fake_pagbank.FakePagBank)."""

    chart_template = "generic_coa"

    @classmethod
    def setup_independent_company(cls, **kwargs):
        brl = cls._enable_currency("BRL")
        return super().setup_independent_company(
            currency_id=brl.id,
            country_id=cls.env.ref("base.br").id,
            vat=COMPANY_CNPJ,
            **kwargs,
        )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = FakePagBank(TOKEN).start()
        cls.addClassCleanup(cls.fake.stop)
        icp = cls.env["ir.config_parameter"].sudo()
        icp.set_param(const.SANDBOX_URL_PARAM, cls.fake.url)
        # Odoo's test framework raises any timeout below 10 s to 10 s.
        icp.set_param(const.TIMEOUT_PARAM, "10")
        cls.brl = cls.env.ref("base.BRL")
        base_provider = cls.env.ref("payment_pagbank.payment_provider_pagbank").sudo()
        cls.provider = base_provider.copy({"company_id": cls.env.company.id, "name": "PagBank"})
        cls.provider.write(
            {
                "state": "test",
                "is_published": True,
                "pagbank_token": TOKEN,
                "pagbank_public_key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr+Zq",
                "journal_id": cls.company_data["default_journal_bank"].id,
            }
        )
        (
            cls.env["payment.provider"]
            .sudo()
            .search([("company_id", "=", cls.env.company.id), ("id", "!=", cls.provider.id)])
        ).state = "disabled"
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Maria José da Conceição",
                "email": "maria.conceicao@example.com",
                "vat": "390.533.447-05",
                "street": "Rua das Acácias, 100",
                "street2": "Jardim Paulista",
                "zip": "01310-100",
                "city": "São Paulo",
                "state_id": cls.env.ref("base.state_br_sp").id,
                "country_id": cls.env.ref("base.br").id,
            }
        )
        cls.card = cls.env.ref("payment.payment_method_card")
        cls.pix = cls.env.ref("payment.payment_method_pix")
        cls.boleto = cls.env.ref("payment.payment_method_boleto")

    def setUp(self):
        super().setUp()
        self.fake.requests.clear()
        self.fake.slow_requests = 0

    # --- helpers ---------------------------------------------------------------------------

    def _make_slow(self, requests):
        """The next `requests` answers arrive after the timeout (PagBank applied them),
        late enough (1.5 s) that a busy machine cannot turn a timeout into an answer."""
        self.fake.slow_requests, self.fake.delay = requests, 11.5

    def _tx(self, method=None, flow="direct", amount=1234.56, **values):
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.provider.id,
                    "payment_method_id": (method or self.card).id,
                    "amount": amount,
                    "currency_id": self.brl.id,
                    "reference": f"PB-{uuid.uuid4().hex[:10]}",
                    "operation": "offline" if flow == "offline" else f"online_{flow}",
                    "partner_id": self.customer.id,
                    **values,
                }
            )
        )

    def _saved_card(self, number="4111111111111111"):
        """A card saved at PagBank by a first payment with "save my card" ticked."""
        first = self._tx(tokenize=True)
        first._pagbank_create_order(encrypted_card=f"ENC-{number}", holder_name="MARIA J CONCEICAO")
        self.assertTrue(first.token_id, "the first payment saved the card")
        return first.token_id

    def _notify(self, payload, token=TOKEN, headers=None):
        body, signed_headers = self.fake.notification(payload, token=token)
        if headers is not None:
            signed_headers = headers
        return self.url_open("/payment/pagbank/webhook", data=body, headers=signed_headers)

    def _payments(self, tx):
        return self.env["account.payment"].search([("payment_transaction_id", "=", tx.id)])
