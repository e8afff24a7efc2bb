import base64
import datetime
import os
import shutil
import stat
import tempfile
from pathlib import Path

import psycopg2

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, JsonRpcException, TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.rbm_pix.engine.pix_api import PixApiError
from odoo.addons.rbm_pix.models.rbm_pix_connection import TOKENS
from odoo.addons.rbm_pix.tests.psp_server import PspServer, make_pki

NETWORKS_PARAM = "rbm_recurring.outbound_allowed_networks"


def _b64(*paths):
    return base64.b64encode(b"".join(Path(path).read_bytes() for path in paths)).decode()


class PspCase:
    """A local PSP with mutual TLS (its CA, server and client certificates made here),
    and the outbound guard opened to the loopback network it listens on."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # the test framework's guard of outbound requests compares the timeout with a
        # number; the Pix client gives (connect, read)
        if isinstance(kw.get("timeout"), tuple):
            kw["timeout"] = max(kw["timeout"])
        return super()._request_handler(s, r, **kw)

    @classmethod
    def _start_psp(cls):
        folder = tempfile.mkdtemp(prefix="rbm-pix-test-")
        cls.addClassCleanup(shutil.rmtree, folder, True)
        cls.pki = make_pki(os.path.join(folder, "psp"), days=365)
        # a client certificate the PSP's CA did not sign
        cls.other_pki = make_pki(os.path.join(folder, "other"), days=365)
        # a client certificate signed by the PSP's CA that expires in 20 days
        cls.short_pki = make_pki(os.path.join(folder, "short"), days=20)
        cls.psp = PspServer(pki=cls.pki).start()
        cls.addClassCleanup(cls.psp.stop)
        cls.env["ir.config_parameter"].sudo().set_param(NETWORKS_PARAM, "127.0.0.0/8")
        cls.admin = cls.env.ref("base.user_admin")
        TOKENS.clear()
        cls.addClassCleanup(TOKENS.clear)

    @classmethod
    def _connection_values(cls, **overrides):
        values = {
            "name": "Test PSP",
            "base_url": cls.psp.base_url,
            "token_url": cls.psp.token_url,
            "client_id": "rbm-client",
            "new_client_secret": "rbm-secret",
            "pix_key": cls.psp.pix_key,
            "notification_url": "https://erp.example.com/rbm_pix",
            "certificate_file": _b64(cls.pki.client_cert, cls.pki.client_key),
            "ca_bundle": _b64(cls.pki.ca_cert),
            "timeout": 5,
        }
        values.update(overrides)
        return values


@tagged("post_install", "-at_install")
class TestPixConnection(PspCase, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_psp()
        cls.manager = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "RBM Pix Manager",
                    "login": "rbm_pix_manager",
                    "password": "rbm_pix_manager",
                    "groups_id": [
                        Command.set(
                            [
                                cls.env.ref("rbm_recurring.rbm_recurring_group_manager").id,
                                cls.env.ref("rbm_dunning.rbm_dunning_group_user").id,
                                cls.env.ref("account.group_account_manager").id,
                            ]
                        )
                    ],
                }
            )
        )

    def _form_connection(self, **overrides):
        """The connection as an administrator types it in the form."""
        values = self._connection_values(**overrides)
        with Form(self.env["rbm.pix.connection"].with_user(self.admin)) as form:
            for name, value in values.items():
                setattr(form, name, value)
        return form.record

    def _test(self, connection, lang=None):
        env_connection = connection.with_user(self.admin)
        if lang:
            env_connection = env_connection.with_context(lang=lang)
        action = env_connection.action_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        return action["params"]

    def _activate_pt_br(self):
        self.env["res.lang"]._activate_lang("pt_BR")
        self.env["ir.module.module"]._load_module_terms(["rbm_pix"], ["pt_BR"])

    # ------------------------------------------------------------
    # upload and test
    # ------------------------------------------------------------

    def test_pem_upload_and_test_connection(self):
        connection = self._form_connection(
            certificate_file=_b64(self.pki.client_cert),
            key_file=_b64(self.pki.client_key),
        )
        self.assertIn("CN=rbm-client", connection.certificate_subject)
        self.assertIn("CN=RBM test CA", connection.certificate_issuer)
        expiry = connection.certificate_not_after
        self.assertAlmostEqual(
            expiry,
            datetime.datetime.now() + datetime.timedelta(days=365),
            delta=datetime.timedelta(days=1),
        )
        self.assertFalse(connection.certificate_expiring)
        self.assertTrue(connection.has_client_secret and connection.has_private_key)
        self.assertIn("BEGIN PRIVATE KEY", connection.sudo().private_key_pem)
        # the inputs are never read back
        self.assertFalse(connection.with_user(self.admin).new_client_secret)
        self.assertFalse(connection.with_user(self.admin).certificate_file)

        tokens = self.psp.token_requests
        result = self._test(connection)
        self.assertEqual(result["type"], "success", result["message"])
        self.assertIn("works", result["message"])
        self.assertIn(("GET", "/api/v2/cob"), self.psp.requests)
        self.assertEqual(self.psp.token_requests, tokens + 1)
        # the token is cached for the next calls of this process
        self.assertEqual(self._test(connection)["type"], "success")
        self.assertEqual(self.psp.token_requests, tokens + 1)
        # ... as long as the credentials it was issued for stay the same
        connection.with_user(self.admin).new_client_secret = "replaced-secret"
        self.assertEqual(self._test(connection)["type"], "danger")
        self.assertEqual(self.psp.token_requests, tokens + 2)

    def test_pkcs12_upload_with_password(self):
        connection = self._form_connection(
            certificate_file=_b64(self.pki.client_p12),
            certificate_password=self.pki.client_p12_password,
        )
        self.assertIn("CN=rbm-client", connection.certificate_subject)
        self.assertEqual(self._test(connection)["type"], "success")

    def test_pkcs12_wrong_password_names_the_field(self):
        with self.assertRaisesRegex(
            ValidationError, r"password given \(field Certificate Password\)"
        ):
            self._form_connection(
                certificate_file=_b64(self.pki.client_p12),
                certificate_password="not-the-password",
            )
        with self.assertRaisesRegex(ValidationError, r"field Private Key"):
            self._form_connection(
                certificate_file=_b64(self.pki.client_cert),
                key_file=_b64(self.other_pki.client_key),
            )

    def test_wrong_client_secret_named_in_pt_br(self):
        self._activate_pt_br()
        connection = self._form_connection(new_client_secret="not-the-secret")
        result = self._test(connection, lang="pt_BR")
        self.assertEqual(result["type"], "danger")
        self.assertIn("Test PSP", result["message"])
        self.assertIn("campo Segredo do cliente", result["message"])
        self.assertIn("invalid_client", result["message"])
        # and in English
        self.assertIn("field Client Secret", self._test(connection)["message"])
        # a new secret typed by the administrator fixes it
        connection.with_user(self.admin).new_client_secret = "rbm-secret"
        self.assertEqual(self._test(connection)["type"], "success")

    def test_certificate_missing_or_not_trusted_is_refused(self):
        connection = self._form_connection(certificate_file=False)
        result = self._test(connection)
        self.assertEqual(result["type"], "danger")
        self.assertIn(
            "has no client certificate for mutual TLS (field Certificate)", result["message"]
        )
        # a certificate the PSP's CA did not sign: refused at the handshake
        failures, tokens = len(self.psp.handshake_failures), self.psp.token_requests
        connection.with_user(self.admin).write(
            {"certificate_file": _b64(self.other_pki.client_cert, self.other_pki.client_key)}
        )
        result = self._test(connection)
        self.assertEqual(result["type"], "danger")
        self.assertIn("refused the TLS handshake (field Certificate)", result["message"])
        self.assertEqual(self.psp.token_requests, tokens)
        self.assertGreater(len(self.psp.handshake_failures), failures)
        with self.assertRaisesRegex(UserError, r"TLS handshake \(field Certificate\)"):
            with connection._get_client() as client:
                try:
                    client.access_token()
                except Exception as error:  # noqa: BLE001 - the helper words any client error
                    connection._raise_pix_error(error)

    def test_server_certificate_not_trusted(self):
        connection = self._form_connection(ca_bundle=_b64(self.other_pki.ca_cert))
        result = self._test(connection)
        self.assertEqual(result["type"], "danger")
        self.assertIn("not trusted (field CA Bundle)", result["message"])

    def test_expired_token_refreshed_once(self):
        connection = self._form_connection()
        self.assertEqual(self._test(connection)["type"], "success")
        self.psp.expire_tokens()
        tokens = self.psp.token_requests
        self.assertEqual(self._test(connection)["type"], "success")
        self.assertEqual(self.psp.token_requests, tokens + 1)

    def test_rfc7807_error_names_the_field(self):
        connection = self._form_connection()
        with connection._get_client() as client:
            with self.assertRaises(PixApiError) as caught:
                client.request("GET", "/cob", params={"inicio": "ontem", "fim": "hoje"})
        with self.assertRaisesRegex(UserError, r"Test PSP.*field inicio: não respeita o formato"):
            connection._raise_pix_error(caught.exception)

    def test_certificate_files_are_private_and_removed(self):
        connection = self._form_connection()
        with connection._get_client() as client:
            settings = client.connection
            for path in (settings.cert_file, settings.key_file, settings.ca_file):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertEqual(
                stat.S_IMODE(os.stat(os.path.dirname(settings.key_file)).st_mode), 0o700
            )
            self.assertEqual((settings.connect_timeout, settings.read_timeout), (5, 5))
        self.assertFalse(os.path.exists(os.path.dirname(settings.key_file)))

    # ------------------------------------------------------------
    # certificate expiry
    # ------------------------------------------------------------

    def test_expiry_warning_once(self):
        connection = self._form_connection(
            certificate_file=_b64(self.short_pki.client_cert, self.short_pki.client_key)
        )
        self.assertTrue(connection.certificate_expiring)
        self._form_connection(name="Long-lived PSP")
        cron = self.env.ref("rbm_pix.ir_cron_rbm_pix_certificate_expiry")
        activity_type = self.env.ref("rbm_pix.mail_activity_type_certificate_expiry")

        def warnings():
            return self.env["mail.activity"].search(
                [
                    ("res_model", "=", "rbm.pix.connection"),
                    ("activity_type_id", "=", activity_type.id),
                ]
            )

        cron.method_direct_trigger()
        self.assertEqual(len(warnings()), 1)
        self.assertEqual(warnings().res_id, connection.id)
        self.assertEqual(warnings().user_id, self.admin)
        cron.method_direct_trigger()
        self.assertEqual(len(warnings()), 1)
        # the renewed certificate ends the warning
        connection.with_user(self.admin).write(
            {"certificate_file": _b64(self.pki.client_cert, self.pki.client_key)}
        )
        self.assertFalse(connection.certificate_expiring)
        self.assertFalse(warnings())

    # ------------------------------------------------------------
    # rules
    # ------------------------------------------------------------

    def test_manager_cannot_read_or_write_secrets(self):
        connection = self._form_connection()
        as_manager = connection.with_user(self.manager)
        self.assertEqual(as_manager.read(["name", "pix_key"])[0]["name"], "Test PSP")
        self.assertTrue(as_manager.has_private_key)
        for fname in ("client_secret", "private_key_pem", "certificate_pem", "new_client_secret"):
            with self.subTest(field=fname), self.assertRaises(AccessError):
                as_manager.read([fname])
        with self.assertRaises(AccessError):
            as_manager.search_read([], ["private_key_pem"])
        with self.assertRaises(AccessError):
            as_manager.write({"new_client_secret": "mine"})
        with self.assertRaises(AccessError):
            as_manager._apply_uploads({"new_client_secret": "mine"})
        # a manager may still test it
        self.assertEqual(as_manager.action_test_connection()["params"]["type"], "success")

    def test_one_default_per_company(self):
        first = self._form_connection(name="First", is_default=True)
        second = self._form_connection(name="Second", is_default=True)
        self.assertFalse(first.is_default)
        self.assertTrue(second.is_default)
        Connection = self.env["rbm.pix.connection"]
        self.assertEqual(Connection._get_default_connection(), second)
        other_company = self.env["res.company"].create({"name": "RBM Pix Other Co"})
        third = Connection.create(
            self._connection_values(name="Third", is_default=True, company_id=other_company.id)
        )
        self.assertTrue(second.is_default and third.is_default)
        # restored from the archive, the old default leaves the mark to the current one
        second.with_user(self.admin).action_archive()
        first.with_user(self.admin).is_default = True
        second.with_user(self.admin).action_unarchive()
        self.assertTrue(first.is_default)
        self.assertFalse(second.is_default)
        # the database refuses a second default, whatever path writes it
        self.env.flush_all()
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.errors.UniqueViolation):
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    "UPDATE rbm_pix_connection SET is_default = true WHERE id = %s", [second.id]
                )

    def test_http_and_private_urls_refused(self):
        with self.assertRaisesRegex(ValidationError, r"https:// .*\(field API URL\)"):
            self._form_connection(base_url="http://pix.example.com/api/v2")
        with self.assertRaisesRegex(ValidationError, r"https:// .*\(field Token URL\)"):
            self._form_connection(token_url="http://pix.example.com/oauth/token")
        with self.assertRaisesRegex(ValidationError, r"10\.1\.2\.3.*\(field API URL\)"):
            self._form_connection(base_url="https://10.1.2.3/api/v2")
        with self.assertRaisesRegex(ValidationError, r"field Notification URL"):
            self._form_connection(notification_url="http://erp.example.com")

    def test_pix_key_checked(self):
        with self.assertRaisesRegex(ValidationError, r"not a Pix key \(field Pix Key\)"):
            self._form_connection(pix_key="123.456.789-00")
        # a valid key that is not the receiver's at this PSP
        connection = self._form_connection(pix_key="outra@chave.example.com")
        result = self._test(connection)
        self.assertEqual(result["type"], "danger")
        self.assertIn("field chave (Pix Key)", result["message"])
        self.assertIn("outra@chave.example.com", result["message"])

    def test_company_rule(self):
        other_company = self.env["res.company"].create({"name": "RBM Pix Rule Co"})
        hidden = self.env["rbm.pix.connection"].create(
            self._connection_values(name="Other company PSP", company_id=other_company.id)
        )
        visible = self._form_connection()
        found = self.env["rbm.pix.connection"].with_user(self.manager).search([])
        self.assertIn(visible, found)
        self.assertNotIn(hidden, found)


@tagged("post_install", "-at_install")
class TestPixConnectionTour(PspCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_psp()
        cls.connection = cls.env["rbm.pix.connection"].create(cls._connection_values())

    def test_tour_test_connection(self):
        self.start_tour(
            f"/odoo/action-rbm_pix.rbm_pix_connection_action/{self.connection.id}",
            "rbm_pix_connection_tour",
            login="admin",
        )
        self.assertIn(("GET", "/api/v2/cob"), self.psp.requests)

    def test_rpc_read_of_the_key_refused(self):
        manager = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "RBM Pix RPC Manager",
                    "login": "rbm_pix_rpc_manager",
                    "password": "rbm_pix_rpc_manager",
                    "groups_id": [
                        Command.set([self.env.ref("rbm_recurring.rbm_recurring_group_manager").id])
                    ],
                }
            )
        )
        self.authenticate("rbm_pix_rpc_manager", "rbm_pix_rpc_manager")
        kwargs = {"model": "rbm.pix.connection", "method": "read", "kwargs": {}}
        names = self.make_jsonrpc_request(
            "/web/dataset/call_kw/rbm.pix.connection/read",
            dict(kwargs, args=[self.connection.ids, ["name"]]),
        )
        self.assertEqual(names[0]["name"], "Test PSP")
        self.assertTrue(manager)
        for fname in ("private_key_pem", "client_secret"):
            with (
                self.subTest(field=fname),
                mute_logger("odoo.http"),
                self.assertRaisesRegex(JsonRpcException, "AccessError"),
            ):
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/rbm.pix.connection/read",
                    dict(kwargs, args=[self.connection.ids, [fname]]),
                )
