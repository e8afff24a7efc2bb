import base64
import datetime
from pathlib import Path

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import ISSUER_CNPJ, NfseCase
from .sefin_server import make_pki


@tagged("post_install", "-at_install")
class TestNfseSettings(NfseCase):
    def test_settings_and_certificate_shown(self):
        company = self.company
        self.assertTrue(company.nfse_enabled)
        self.assertEqual(company.nfse_city_ibge, "3550308")
        self.assertEqual(company.nfse_regime, "normal")
        self.assertEqual(company.nfse_layout_version, "1.01")
        self.assertEqual(company._nfse_url(), self.sefin.base_url)
        self.assertEqual(self.certificate.cnpj, ISSUER_CNPJ)
        self.assertIn(ISSUER_CNPJ, self.certificate.subject)
        self.assertGreater(self.certificate.expires_at, datetime.datetime.now())
        self.assertEqual(company._nfse_certificate(), self.certificate)

    def test_settings_refuse_bad_codes(self):
        with self.assertRaisesRegex(ValidationError, "7 digits"):
            self.company.nfse_city_ibge = "355030"
        self.env.invalidate_all(flush=False)
        with self.assertRaisesRegex(ValidationError, "https"):
            self.company.nfse_url_production = "http://sefin.example.com"
        self.env.invalidate_all(flush=False)
        with self.assertRaisesRegex(ValidationError, "6 digits"):
            self.product.nfse_service_code = "1.05"
        self.env.invalidate_all(flush=False)
        with self.assertRaisesRegex(ValidationError, "7 digits"):
            self.customer.nfse_city_ibge = "35503"

    def test_certificate_of_another_cnpj_refused(self):
        other = make_pki(cnpj="11444777000161")
        with self.assertRaisesRegex(ValidationError, "11444777000161.*11222333000181"):
            with Form(self.env["rbm.nfse.certificate"]) as upload:
                upload.file = base64.b64encode(Path(other.client_p12).read_bytes())
                upload.password = other.client_p12_password

    def test_certificate_wrong_password_refused(self):
        with self.assertRaisesRegex(ValidationError, "could not be opened"):
            self.env["rbm.nfse.certificate"].create(
                {
                    "file": base64.b64encode(Path(self.pki.client_p12).read_bytes()),
                    "password": "not-the-password",
                }
            )

    def test_expired_certificate_refused(self):
        expired = make_pki(
            cnpj=ISSUER_CNPJ,
            client_not_after=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1),
        )
        with self.assertRaisesRegex(ValidationError, "expired"):
            self.env["rbm.nfse.certificate"].create(
                {
                    "file": base64.b64encode(Path(expired.client_p12).read_bytes()),
                    "password": expired.client_p12_password,
                }
            )

    def test_one_warning_activity_before_expiry(self):
        soon = make_pki(
            cnpj=ISSUER_CNPJ,
            client_not_after=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=20),
        )
        certificate = self.env["rbm.nfse.certificate"].create(
            {
                "file": base64.b64encode(Path(soon.client_p12).read_bytes()),
                "password": soon.client_p12_password,
            }
        )
        cron = self.env.ref("rbm_nfse.ir_cron_rbm_nfse_certificate_expiry")
        cron.method_direct_trigger()
        cron.method_direct_trigger()
        self.assertEqual(len(certificate.activity_ids), 1)
        self.assertIn("expires", certificate.activity_ids.summary)
        # the certificate valid for a year is not warned about
        self.assertFalse(self.certificate.activity_ids)

    def test_certificate_readable_by_administrators_only(self):
        accountant = self.env["res.users"].create(
            {
                "name": "Accountant",
                "login": "nfse-accountant",
                "groups_id": [Command.set([self.env.ref("account.group_account_invoice").id])],
            }
        )
        self.assertFalse(self.env["rbm.nfse.certificate"].with_user(accountant).has_access("read"))
        self.assertTrue(self.env["rbm.nfse"].with_user(accountant).has_access("read"))

    def test_dps_numbers_gapless(self):
        Counter = self.env["rbm.nfse.counter"]
        self.assertEqual(Counter._reserve(self.company, "7"), 1)
        try:
            with self.env.cr.savepoint():
                self.assertEqual(Counter._reserve(self.company, "7"), 2)
                raise ValueError("send failed")
        except ValueError:
            pass
        # the rolled-back reservation gave its number back
        self.assertEqual(Counter._reserve(self.company, "7"), 2)
        self.assertEqual(Counter._reserve(self.company, "8"), 1)

    def test_service_data_resolution(self):
        """Plan line, then product, then company, field by field."""
        Nfse = self.env["rbm.nfse"]
        plan = self.env["rbm.plan"].create(
            {
                "name": "Plano NFS-e",
                "line_ids": [Command.create({"product_id": self.product.id, "price_unit": 10})],
            }
        )
        self.product.nfse_iss_rate = 3.0
        plan.line_ids.nfse_service_code = "010601"
        move = self.make_invoice(post=False)
        line = move.invoice_line_ids
        values = Nfse._service_data(line)
        self.assertEqual(values["nfse_service_code"], "010501")  # company
        self.assertEqual(values["nfse_iss_rate"], 3.0)  # product
        contract = self.env["rbm.contract"].create(
            {"partner_id": self.customer.id, "plan_id": plan.id}
        )
        contract_line = contract.line_ids[:1] or self.env["rbm.contract.line"].create(
            {
                "contract_id": contract.id,
                "product_id": self.product.id,
                "plan_line_id": plan.line_ids.id,
            }
        )
        contract_line.plan_line_id = plan.line_ids
        line.rbm_contract_line_id = contract_line
        values = Nfse._service_data(line)
        self.assertEqual(values["nfse_service_code"], "010601")  # plan line
        self.assertEqual(values["nfse_iss_rate"], 3.0)  # product
        self.assertEqual(values["nfse_nbs_code"], "115022000")  # company
