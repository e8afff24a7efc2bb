"""A company's connection to its PSP through the Banco Central's standard Pix API.

Secrets
=======

The client secret and the private key of the client certificate are readable by
administrators only (``base.group_system`` on the fields), and not even shown back to
them: the form offers empty input fields (``new_client_secret``, ``certificate_file``,
``key_file``, ``certificate_password``) that are turned into the stored values when saved
and always read empty. The code that calls the PSP reads the secrets with ``sudo()`` in
``_get_client()``.

Calls
=====

``_get_client()`` is a context manager answering a :class:`PixClient` for the connection:
the certificate, key and CA bundle are written to files only the server's user reads
(``0600`` in a ``0700`` folder, what ``requests`` needs) and removed when the block ends.
The session only connects to the addresses the outbound guard allows (the system
parameters of ``rbm_recurring``'s provisioning endpoints), and every call has a timeout.
Tokens are cached per process under a digest of the credentials
(``engine/token_cache.py`` says why not in the database).
"""

import base64
import contextlib
import datetime
import hashlib
import logging
import os
import secrets
import shutil
import tempfile
from urllib.parse import urlsplit

import requests

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, sql

from odoo.addons.rbm_dunning.engine import pix
from odoo.addons.rbm_recurring.engine import url_guard
from odoo.addons.rbm_recurring.tools import check_staff_access

from ..engine import certificates
from ..engine.pix_api import (
    ERROR_TYPE_PREFIX,
    PixApiError,
    PixConnection,
    PixConnectionError,
    PixError,
    PixRequestError,
)
from ..engine.token_cache import CachedTokenClient, TokenCache

_logger = logging.getLogger(__name__)

# days before the client certificate expires when administrators are warned
CERTIFICATE_WARNING_DAYS = 30
# input fields of the form that are turned into stored values when saved (never read back)
UPLOAD_FIELDS = (
    "new_client_secret",
    "certificate_file",
    "certificate_filename",
    "key_file",
    "certificate_password",
)
# OAuth2 error codes of the token endpoint (RFC 6749, 5.2)
OAUTH_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "oauth2",
)
MAX_CONNECT_TIMEOUT = 10

TOKENS = TokenCache()


class RbmPixConnection(models.Model):
    _name = "rbm.pix.connection"
    _description = "PSP Connection (Pix API)"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "company_id, is_default desc, name, id"
    _check_company_auto = True

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, tracking=True
    )
    is_default = fields.Boolean(
        string="Default",
        tracking=True,
        help="The connection the company's Pix charges use when none is chosen. One per "
        "company: making a connection the default takes the mark from the previous one.",
    )
    active = fields.Boolean(default=True, tracking=True)
    base_url = fields.Char(
        string="API URL",
        required=True,
        tracking=True,
        help="The root of the PSP's Pix API, before /cob, /rec... "
        "(e.g. https://pix.example-bank.com.br/api/v2). https only.",
    )
    token_url = fields.Char(
        string="Token URL",
        required=True,
        tracking=True,
        help="The PSP's OAuth2 token endpoint (client credentials). https only.",
    )
    client_id = fields.Char(string="Client ID", required=True, tracking=True)
    client_secret = fields.Char(
        string="Stored Client Secret", groups="base.group_system", copy=False
    )
    new_client_secret = fields.Char(
        string="Client Secret",
        compute="_compute_upload_fields",
        readonly=False,
        groups="base.group_system",
        help="Type the client secret the PSP issued; it is stored and never shown again.",
    )
    has_client_secret = fields.Boolean(
        string="Client Secret Stored", compute="_compute_has_secrets", compute_sudo=True
    )
    scope = fields.Char(
        help='OAuth2 scopes to ask for, separated by spaces (e.g. "cob.read cob.write"); '
        "empty: the scopes the PSP grants to the client."
    )
    certificate_pem = fields.Text(
        string="Client Certificate (PEM)", groups="base.group_system", copy=False
    )
    private_key_pem = fields.Text(
        string="Private Key (PEM)", groups="base.group_system", copy=False
    )
    certificate_file = fields.Binary(
        string="Certificate",
        compute="_compute_upload_fields",
        readonly=False,
        attachment=False,
        groups="base.group_system",
        help="The client certificate for mutual TLS: a PEM file (certificate, with its "
        "private key or with the key uploaded below) or a PKCS#12 file (.p12/.pfx) with "
        "its password.",
    )
    certificate_filename = fields.Char(
        compute="_compute_upload_fields", readonly=False, groups="base.group_system"
    )
    key_file = fields.Binary(
        string="Private Key",
        compute="_compute_upload_fields",
        readonly=False,
        attachment=False,
        groups="base.group_system",
        help="The certificate's private key (PEM), when it is not in the certificate file.",
    )
    certificate_password = fields.Char(
        compute="_compute_upload_fields",
        readonly=False,
        groups="base.group_system",
        help="The password of the PKCS#12 file, or of an encrypted PEM key. Not stored.",
    )
    has_private_key = fields.Boolean(
        string="Private Key Stored", compute="_compute_has_secrets", compute_sudo=True
    )
    certificate_subject = fields.Char(readonly=True, copy=False)
    certificate_issuer = fields.Char(readonly=True, copy=False)
    certificate_not_after = fields.Datetime(
        string="Certificate Expiry", readonly=True, copy=False, tracking=True
    )
    certificate_expiring = fields.Boolean(compute="_compute_certificate_expiring")
    ca_bundle = fields.Binary(
        string="CA Bundle",
        help="The certificates (PEM) that signed the PSP's server certificate, when they "
        "are not among the public authorities the server trusts.",
    )
    ca_bundle_filename = fields.Char()
    pix_key = fields.Char(
        string="Pix Key",
        required=True,
        tracking=True,
        help="The receiver's Pix key at this PSP: CPF or CNPJ without punctuation, phone "
        "+55..., e-mail or random key.",
    )
    notification_url = fields.Char(
        string="Notification URL",
        tracking=True,
        help="The public https address of this Odoo where the PSP sends its notifications.",
    )
    retry_policy = fields.Selection(
        [
            ("NAO_PERMITE", "No retries"),
            ("PERMITE_3R_7D", "Up to 3 retries within 7 days"),
        ],
        string="Retry Policy",
        required=True,
        default="NAO_PERMITE",
        tracking=True,
        help="What Pix Automático authorizations offer when a cycle's charge fails "
        "(politicaRetentativa).",
    )
    validity_days = fields.Integer(
        string="Validity After Due Date (days)",
        required=True,
        default=30,
        help="Days after the due date an invoice's dynamic Pix charge can still be paid "
        "(validadeAposVencimento), with the fine and interest of its collection account.",
    )
    webhook_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        default=lambda self: secrets.token_hex(24),
        help="Part of the address registered at the PSP for its notifications: a "
        "notification that does not carry it is refused.",
    )
    charge_count = fields.Integer(string="Dynamic Pix Charges", compute="_compute_charge_count")
    timeout = fields.Integer(
        string="Timeout (seconds)",
        required=True,
        default=30,
        help="How long a call to the PSP may wait for its answer.",
    )

    # ------------------------------------------------------------
    # SQL
    # ------------------------------------------------------------

    _sql_constraints = [
        ("timeout_positive", "CHECK(timeout > 0)", "The timeout must be positive."),
        (
            "validity_days_positive",
            "CHECK(validity_days >= 0)",
            "The validity after the due date cannot be negative.",
        ),
    ]

    def init(self):
        super().init()
        # one default connection per company
        if not sql.index_exists(self.env.cr, "rbm_pix_connection_default_uniq"):
            self.env.cr.execute(
                SQL(
                    """
                    CREATE UNIQUE INDEX rbm_pix_connection_default_uniq
                        ON rbm_pix_connection (company_id)
                     WHERE is_default AND active
                    """
                )
            )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    def _compute_upload_fields(self):
        for connection in self:
            connection.new_client_secret = False
            connection.certificate_file = False
            connection.certificate_filename = False
            connection.key_file = False
            connection.certificate_password = False

    @api.depends("client_secret", "private_key_pem")
    def _compute_has_secrets(self):
        for connection in self:
            connection.has_client_secret = bool(connection.client_secret)
            connection.has_private_key = bool(connection.private_key_pem)

    def _compute_charge_count(self):
        counts = dict(
            self.env["rbm.pix.charge"]._read_group(
                [("connection_id", "in", self.ids)], ["connection_id"], ["__count"]
            )
        )
        for connection in self:
            connection.charge_count = counts.get(connection, 0)

    @api.depends("certificate_not_after")
    def _compute_certificate_expiring(self):
        limit = fields.Datetime.now() + datetime.timedelta(days=CERTIFICATE_WARNING_DAYS)
        for connection in self:
            expiry = connection.certificate_not_after
            connection.certificate_expiring = bool(expiry and expiry <= limit)

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("base_url", "token_url")
    def _check_urls(self):
        networks = self._get_allowed_networks()
        for connection in self:
            for fname in ("base_url", "token_url"):
                refusal = connection._get_url_refusal(fname, networks, resolve_errors=False)
                if refusal:
                    raise ValidationError(refusal)

    @api.constrains("notification_url")
    def _check_notification_url(self):
        for connection in self.filtered("notification_url"):
            parts = urlsplit(connection.notification_url)
            if parts.scheme != "https" or not parts.hostname:
                raise ValidationError(
                    _(
                        "PSP connection %(connection)s: the notification URL must be a "
                        "public https:// address (field Notification URL).",
                        connection=connection.display_name,
                    )
                )

    @api.constrains("pix_key")
    def _check_pix_key(self):
        for connection in self:
            try:
                pix.key_type(connection.pix_key)
            except pix.PixError:
                raise ValidationError(
                    _(
                        "PSP connection %(connection)s: %(key)s is not a Pix key (field Pix "
                        "Key). Write a CPF or CNPJ without punctuation, a phone number as "
                        "+55 and its digits, an e-mail or a random key.",
                        connection=connection.display_name,
                        key=connection.pix_key,
                    )
                ) from None

    @api.constrains("ca_bundle")
    def _check_ca_bundle(self):
        for connection in self.filtered("ca_bundle"):
            try:
                certificates.load_certificates(base64.b64decode(connection.ca_bundle))
            except (certificates.CertificateError, ValueError):
                raise ValidationError(
                    _(
                        "PSP connection %(connection)s: the CA bundle holds no PEM "
                        "certificate (field CA Bundle).",
                        connection=connection.display_name,
                    )
                ) from None

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        uploads = [self._pop_uploads(vals) for vals in vals_list]
        for vals in vals_list:
            if vals.get("is_default"):
                company_id = vals.get("company_id") or self.env.company.id
                self._release_default(company_id)
        connections = super().create(vals_list)
        for connection, upload in zip(connections, uploads, strict=True):
            if upload:
                connection._apply_uploads(upload)
        return connections

    def write(self, vals):
        upload = self._pop_uploads(vals)
        if vals.get("active") and not vals.get("is_default"):
            # restored from the archive: the company's current default stays the default
            self.filtered(lambda c: not c.active and c.is_default).write({"is_default": False})
        if vals.get("is_default") or "company_id" in vals:
            # becoming the default, or moving to another company as its default: the mark
            # is taken from the current one
            for connection in self:
                if vals.get("is_default", connection.is_default):
                    company_id = vals.get("company_id") or connection.company_id.id
                    self._release_default(company_id, exclude=self)
        result = super().write(vals)
        if upload:
            for connection in self:
                connection._apply_uploads(upload)
        return result

    @api.model
    def _pop_uploads(self, vals):
        """Take the input fields out of ``vals``: ``{field: value}`` of those given."""
        return {fname: vals.pop(fname) for fname in UPLOAD_FIELDS if fname in vals}

    @api.model
    def _release_default(self, company_id, exclude=None):
        """Take the default mark from the company's current default connection (the
        unique index refuses two, and is the guard against two saves at once)."""
        previous = self.with_context(active_test=True).search(
            [("company_id", "=", company_id), ("is_default", "=", True)]
        )
        previous -= exclude or self.browse()
        if previous:
            previous.write({"is_default": False})
            previous.flush_recordset(["is_default"])

    def _apply_uploads(self, upload):
        """Store what an administrator typed or uploaded: the client secret, and the
        client certificate converted to PEM."""
        self.ensure_one()
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(_("Only administrators may change the secrets of a PSP connection."))
        values = {}
        if upload.get("new_client_secret"):
            values["client_secret"] = upload["new_client_secret"]
        if upload.get("certificate_file"):
            certificate = self._read_certificate_upload(upload)
            values.update(
                certificate_pem=certificate.certificate_pem,
                private_key_pem=certificate.key_pem,
                certificate_subject=certificate.subject,
                certificate_issuer=certificate.issuer,
                certificate_not_after=certificate.not_after,
            )
        elif upload.get("key_file") or upload.get("certificate_password"):
            raise ValidationError(
                _(
                    "PSP connection %(connection)s: upload the certificate together with its "
                    "private key or password (field Certificate).",
                    connection=self.display_name,
                )
            )
        if values:
            super().write(values)
        if "certificate_not_after" in values and not self.certificate_expiring:
            self.activity_unlink(["rbm_pix.mail_activity_type_certificate_expiry"])

    def _read_certificate_upload(self, upload):
        self.ensure_one()
        key_data = upload.get("key_file")
        try:
            return certificates.load_client_certificate(
                base64.b64decode(upload["certificate_file"]),
                base64.b64decode(key_data) if key_data else None,
                upload.get("certificate_password") or None,
            )
        except (certificates.CertificateError, ValueError) as error:
            raise ValidationError(self._describe_certificate_error(error)) from None

    def _describe_certificate_error(self, error):
        self.ensure_one()
        code = getattr(error, "code", certificates.UNREADABLE)
        name = self.display_name
        if code == certificates.WRONG_PASSWORD:
            return _(
                "PSP connection %(connection)s: the certificate could not be opened with the "
                "password given (field Certificate Password). Check the password of the "
                "PKCS#12 file or of the private key.",
                connection=name,
            )
        if code == certificates.NO_CERTIFICATE:
            return _(
                "PSP connection %(connection)s: the file holds no certificate (field "
                "Certificate). Upload the PEM or PKCS#12 file the PSP issued.",
                connection=name,
            )
        if code == certificates.NO_KEY:
            return _(
                "PSP connection %(connection)s: no private key was found (field Private Key). "
                "Upload the key with the certificate, or a PKCS#12 file that holds both.",
                connection=name,
            )
        if code == certificates.KEY_MISMATCH:
            return _(
                "PSP connection %(connection)s: the private key is not the certificate's "
                "(field Private Key).",
                connection=name,
            )
        return _(
            "PSP connection %(connection)s: the certificate file is neither PEM nor PKCS#12 "
            "(field Certificate).",
            connection=name,
        )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_test_connection(self):
        """Get a token, make a harmless query (the charges of the last minute) and check
        that the PSP knows the Pix key; report the outcome as a notification."""
        check_staff_access(self, "read")
        self.ensure_one()
        try:
            with self._get_client() as client:
                client.access_token()
                self._query_recent_charges(client)
                self._check_pix_key_at_psp(client)
        except (PixError, url_guard.UrlRefused, requests.RequestException) as error:
            _logger.info("PSP connection %s: test failed: %s", self.id, error)
            return self._notify(self._get_pix_error_message(error), "danger")
        except UserError as error:
            return self._notify(error.args[0], "danger")
        return self._notify(
            _(
                "PSP connection %(connection)s works: the PSP issued a token and answered "
                "a query of its charges.",
                connection=self.display_name,
            ),
            "success",
        )

    def action_register_webhook(self):
        """``PUT /webhook/{chave}``: the PSP sends the payments of the charges to this
        Odoo's notification route (the address carries the connection's secret)."""
        check_staff_access(self, "write")
        self.ensure_one()
        if not self.notification_url:
            raise UserError(
                _(
                    "PSP connection %(connection)s has no notification URL (field "
                    "Notification URL): write the public https address of this Odoo.",
                    connection=self.display_name,
                )
            )
        url = self._get_webhook_url()
        done = []
        try:
            with self._get_client() as client:
                for label, register in self._get_webhook_registrations(client):
                    register(url)
                    done.append(label)
        except (PixError, url_guard.UrlRefused, requests.RequestException) as error:
            _logger.info("PSP connection %s: webhook registration failed: %s", self.id, error)
            message = self._get_pix_error_message(error)
            if done:
                message = _(
                    "%(error)s (already registered: %(done)s)",
                    error=message,
                    done=", ".join(done),
                )
            return self._notify(message, "danger", _("Register notifications"))
        self.message_post(
            body=_(
                "Notifications registered at the PSP: %(kinds)s.",
                kinds=", ".join(done),
            )
        )
        return self._notify(
            _(
                "PSP connection %(connection)s: the PSP now notifies the Pix payments to "
                "this Odoo.",
                connection=self.display_name,
            ),
            "success",
            _("Register notifications"),
        )

    def _get_webhook_registrations(self, client):
        """The notifications registered by *Register notifications*, in order: one
        ``(label, register(url))`` per webhook of the Pix API (the PSP appends ``/pix``,
        ``/rec`` or ``/cobr`` to the URL)."""
        self.ensure_one()
        return [
            (
                _("Pix payments (key %(key)s)", key=self.pix_key),
                lambda url: client.put_webhook(self.pix_key, url),
            ),
            (_("Pix Automático authorizations"), client.put_webhookrec),
            (_("Pix Automático cycle charges"), client.put_webhookcobr),
        ]

    def action_view_charges(self):
        check_staff_access(self, "read")
        action = self.env["ir.actions.act_window"]._for_xml_id("rbm_pix.rbm_pix_charge_action")
        action["domain"] = [("connection_id", "in", self.ids)]
        return action

    def _get_webhook_url(self, base_url=None):
        """Where the PSP sends notifications: ``{base}/rbm/pix/webhook/{id}/{secret}``
        (the PSP appends ``/pix``)."""
        self.ensure_one()
        connection_sudo = self.sudo()
        if not connection_sudo.webhook_secret:
            connection_sudo.webhook_secret = secrets.token_hex(24)
        base = (base_url or self.notification_url or "").rstrip("/")
        return f"{base}/rbm/pix/webhook/{self.id}/{connection_sudo.webhook_secret}"

    def _notify(self, message, kind, title=None):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title or _("Test connection"),
                "message": message,
                "type": kind,
                "sticky": kind != "success",
            },
        }

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    @api.model
    def _get_default_connection(self, company=None):
        """The company's default connection, or its only one; empty when none is clear."""
        company = company or self.env.company
        connections = self.search([("company_id", "=", company.id)])
        return connections.filtered("is_default")[:1] or (
            connections if len(connections) == 1 else self.browse()
        )

    @api.model
    def _get_allowed_networks(self):
        """The non-public networks the outbound guard allows (system parameter of the
        provisioning endpoints, shared by every outbound call the project makes)."""
        networks, _allow_http = self.env["rbm.provisioning.endpoint"]._get_outbound_guard()
        return networks

    def _get_url_refusal(self, fname, networks, resolve_errors=True):
        """Why the URL in ``fname`` may not be called, in words naming the field; False
        when it may."""
        self.ensure_one()
        label = self._fields[fname].get_description(self.env)["string"]
        try:
            url_guard.check_url(self[fname], networks, allow_http=False)
        except url_guard.UrlRefused as refused:
            return self._describe_url_refusal(refused, label)
        except OSError as error:
            if not resolve_errors:
                return False
            return _(
                "PSP connection %(connection)s: the host of the URL could not be resolved "
                "(field %(field)s): %(error)s",
                connection=self.display_name,
                field=label,
                error=error,
            )
        return False

    def _describe_url_refusal(self, refused, label):
        self.ensure_one()
        if refused.reason in ("scheme", "host", "http"):
            return _(
                "PSP connection %(connection)s: the URL must start with https:// followed by "
                "a host name (field %(field)s).",
                connection=self.display_name,
                field=label,
            )
        return _(
            "PSP connection %(connection)s: the host of the URL is or resolves to "
            "%(address)s, which is not a public address and may not be called (field "
            "%(field)s). Use the PSP's public address, or add the network to the system "
            "parameter rbm_recurring.outbound_allowed_networks.",
            connection=self.display_name,
            address=refused.address,
            field=label,
        )

    def _get_missing_setup(self):
        """What is missing before the PSP can be called, in words; False when nothing."""
        self.ensure_one()
        connection_sudo = self.sudo()
        if not connection_sudo.client_secret:
            return _(
                "PSP connection %(connection)s has no client secret (field Client Secret).",
                connection=self.display_name,
            )
        if not (connection_sudo.certificate_pem and connection_sudo.private_key_pem):
            return _(
                "PSP connection %(connection)s has no client certificate for mutual TLS "
                "(field Certificate): PSPs refuse every call without one.",
                connection=self.display_name,
            )
        return False

    @api.model
    def _client_pool(self):
        """A ``with`` block in which :meth:`_run_grouped` calls share their clients: one
        per connection, closed at the end of the block."""
        return _ClientPool()

    @api.model
    def _run_grouped(self, records, method, auto_commit, pool=None):
        """``record._run(method, auto_commit, client)`` for each of ``records`` (charges,
        cycle charges…), with one client per connection (from ``pool`` when given): one TLS
        connection and one token for the whole batch instead of one per record. A
        connection that cannot give a client (incomplete, URL refused) leaves its reason
        on each of its records, as a call per record does."""
        if pool is None:
            with self._client_pool() as pool:
                return self._run_grouped(records, method, auto_commit, pool)
        for connection in records.connection_id:
            batch = records.filtered(lambda r, c=connection: r.connection_id == c)
            try:
                client = pool.get(connection)
            except UserError:
                client = None
            for record in batch:
                # without a client, each record keeps the connection's reason
                record._run(method, auto_commit, client=client)
        return None

    @contextlib.contextmanager
    def _get_client(self):
        """A :class:`PixClient` for this connection, for the duration of a ``with`` block.

        Raise UserError when the connection is not complete or its URLs may not be called.
        """
        self.ensure_one()
        missing = self._get_missing_setup()
        if missing:
            raise UserError(missing)
        networks = self._get_allowed_networks()
        for fname in ("base_url", "token_url"):
            refusal = self._get_url_refusal(fname, networks)
            if refusal:
                raise UserError(refusal)
        connection_sudo = self.sudo()
        folder = tempfile.mkdtemp(prefix="rbm-pix-")  # 0700
        session = url_guard.guarded_session(networks)
        try:
            ca_file = None
            if connection_sudo.ca_bundle:
                ca_file = _write_private(
                    folder, "ca.pem", base64.b64decode(connection_sudo.ca_bundle)
                )
            settings = PixConnection(
                base_url=connection_sudo.base_url,
                token_url=connection_sudo.token_url,
                client_id=connection_sudo.client_id,
                client_secret=connection_sudo.client_secret,
                cert_file=_write_private(
                    folder, "client.crt", connection_sudo.certificate_pem.encode()
                ),
                key_file=_write_private(
                    folder, "client.key", connection_sudo.private_key_pem.encode()
                ),
                ca_file=ca_file,
                scope=connection_sudo.scope or None,
                connect_timeout=min(self.timeout, MAX_CONNECT_TIMEOUT),
                read_timeout=self.timeout,
            )
            yield CachedTokenClient(settings, TOKENS, self._get_token_key(), session=session)
        finally:
            session.close()
            shutil.rmtree(folder, ignore_errors=True)

    def _get_token_key(self):
        """The key of this connection's token in the process's cache. Its last part is a
        digest of what the token depends on (URLs, credentials, certificate): changing any
        of them never reuses an old token, even within one transaction, where the record's
        write date does not change."""
        self.ensure_one()
        connection_sudo = self.sudo()
        parts = (
            connection_sudo.base_url,
            connection_sudo.token_url,
            connection_sudo.client_id,
            connection_sudo.client_secret,
            connection_sudo.scope,
            connection_sudo.certificate_pem,
        )
        digest = hashlib.sha256("\0".join(part or "" for part in parts).encode()).hexdigest()
        return (self.env.cr.dbname, self.id, digest)

    def _query_recent_charges(self, client):
        """``GET /cob`` of the last minute: a read every PSP answers, that changes nothing."""
        end = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        start = end - datetime.timedelta(minutes=1)
        return client.request(
            "GET",
            "/cob",
            params={
                "inicio": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fim": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "paginacao.itensPorPagina": 1,
            },
        )

    def _check_pix_key_at_psp(self, client):
        """``GET /webhook/{chave}``: the PSP refuses a key that is not the receiver's; a key
        without a webhook yet is answered 404, which is fine here."""
        self.ensure_one()
        try:
            client.get_webhook(self.pix_key)
        except PixApiError as error:
            if error.status != 404:
                raise

    def _raise_pix_error(self, error):
        """Raise ``error`` (from the Pix API client) as a UserError in words naming the
        connection and the field."""
        raise UserError(self._get_pix_error_message(error)) from error

    def _get_pix_error_message(self, error):
        """An error of the Pix API client (or of the outbound guard) in plain words."""
        self.ensure_one()
        if isinstance(error, url_guard.UrlRefused):
            return self._describe_url_refusal(error, _("API URL"))
        if isinstance(error, PixRequestError):
            return _(
                "PSP connection %(connection)s: the request was not sent, it breaks the rules "
                "of the Pix API: %(violations)s",
                connection=self.display_name,
                violations=self._describe_violations(error),
            )
        if isinstance(error, PixApiError):
            if _is_token_error(error):
                return self._describe_token_error(error)
            return self._describe_api_error(error)
        if isinstance(error, PixConnectionError | requests.RequestException):
            return self._describe_connection_error(error)
        return _(
            "PSP connection %(connection)s: %(error)s",
            connection=self.display_name,
            error=str(error),
        )

    def _describe_violations(self, error):
        # what the PSP names, for the fields of the connection that set it
        own_fields = {"chave": "pix_key", "webhookUrl": "notification_url"}
        parts = []
        for violacao in error.violacoes:
            field = violacao.get("propriedade") or "?"
            if field in own_fields:
                label = self._fields[own_fields[field]].get_description(self.env)["string"]
                field = f"{field} ({label})"
            text = _(
                "field %(field)s: %(reason)s",
                field=field,
                reason=violacao.get("razao") or _("invalid"),
            )
            if violacao.get("valor") not in (None, ""):
                text = _("%(text)s (value %(value)s)", text=text, value=violacao["valor"])
            parts.append(text)
        return "; ".join(parts)

    def _describe_token_error(self, error):
        if error.type == "invalid_client" or error.status == 401:
            return _(
                "PSP connection %(connection)s: the PSP refused the client credentials (field "
                "Client Secret, or Client ID): check them against what the PSP issued. "
                "(HTTP %(status)s, %(code)s)",
                connection=self.display_name,
                status=error.status,
                code=error.type,
            )
        if error.type == "invalid_scope":
            return _(
                "PSP connection %(connection)s: the PSP refused the scopes asked for (field "
                "Scope). (HTTP %(status)s, %(code)s)",
                connection=self.display_name,
                status=error.status,
                code=error.type,
            )
        return _(
            "PSP connection %(connection)s: the PSP refused to issue a token (field Token "
            "URL): %(error)s",
            connection=self.display_name,
            error=str(error),
        )

    def _describe_api_error(self, error):
        known = {
            "NaoAutorizado": _("the token was not accepted"),
            "AcessoNegado": _(
                "access denied: the client credentials lack the scope this call needs (field Scope)"
            ),
            "ServicoIndisponivel": _("the PSP is unavailable, try again later"),
            "IndisponibilidadePorTempoEsgotado": _("the PSP took too long to answer"),
            "ErroInternoDoServidor": _("the PSP failed while handling the call"),
            "NaoEncontrado": _("the PSP does not know this address (field API URL)"),
        }
        what = known.get(error.error_name) or error.title or error.detail or _("refused")
        violations = self._describe_violations(error)
        if violations:
            return _(
                "PSP connection %(connection)s: the PSP refused the request (%(what)s, HTTP "
                "%(status)s): %(violations)s",
                connection=self.display_name,
                what=what,
                status=error.status,
                violations=violations,
            )
        detail = error.detail if error.detail and error.detail != error.title else ""
        return _(
            "PSP connection %(connection)s: the PSP refused the request (%(what)s, HTTP "
            "%(status)s). %(detail)s",
            connection=self.display_name,
            what=what,
            status=error.status,
            detail=detail,
        ).strip()

    def _describe_connection_error(self, error):
        cause = error if isinstance(error, requests.RequestException) else error.__cause__
        if isinstance(cause, requests.exceptions.SSLError):
            if "CERTIFICATE_VERIFY_FAILED" in str(cause):
                return _(
                    "PSP connection %(connection)s: the PSP's server certificate is not "
                    "trusted (field CA Bundle): upload the certificates of the authority "
                    "that signed it. Details: %(error)s",
                    connection=self.display_name,
                    error=str(cause),
                )
            return _(
                "PSP connection %(connection)s: the PSP refused the TLS handshake (field "
                "Certificate): it did not accept the client certificate. Upload the "
                "certificate the PSP registered for this client. Details: %(error)s",
                connection=self.display_name,
                error=str(cause),
            )
        if isinstance(cause, requests.Timeout):
            return _(
                "PSP connection %(connection)s: the PSP did not answer in time (field "
                "Timeout). Details: %(error)s",
                connection=self.display_name,
                error=str(cause),
            )
        return _(
            "PSP connection %(connection)s: the PSP could not be reached (field API URL). "
            "Details: %(error)s",
            connection=self.display_name,
            error=str(cause or error),
        )

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_warn_certificate_expiry(self):
        """Schedule, once, an activity for an administrator on every active connection
        whose client certificate expires within CERTIFICATE_WARNING_DAYS days."""
        limit = fields.Datetime.now() + datetime.timedelta(days=CERTIFICATE_WARNING_DAYS)
        connections_sudo = self.sudo().search(
            [("certificate_not_after", "!=", False), ("certificate_not_after", "<=", limit)]
        )
        activity_type = self.env.ref("rbm_pix.mail_activity_type_certificate_expiry")
        warned = (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", connections_sudo.ids),
                    ("activity_type_id", "=", activity_type.id),
                ]
            )
        )
        today = fields.Date.context_today(self)
        for connection_sudo in connections_sudo.filtered(
            lambda c: c.id not in warned.mapped("res_id")
        ):
            expiry = connection_sudo.certificate_not_after
            connection_sudo.activity_schedule(
                "rbm_pix.mail_activity_type_certificate_expiry",
                date_deadline=max(today, expiry.date() - datetime.timedelta(days=7)),
                summary=_("Renew the PSP client certificate"),
                note=_(
                    "The client certificate of PSP connection %(connection)s (%(subject)s) "
                    "expires on %(date)s UTC. Ask the PSP for a new one and upload it before "
                    "then: the PSP refuses every call made with an expired certificate.",
                    connection=connection_sudo.display_name,
                    subject=connection_sudo.certificate_subject or "-",
                    date=fields.Datetime.to_string(expiry),
                ),
                user_id=connection_sudo._get_certificate_warning_user().id,
            )

    def _get_certificate_warning_user(self):
        """The administrator warned of the certificate's expiry: the first one of the
        connection's company."""
        self.ensure_one()
        admins = (
            self.env.ref("base.group_system")
            .sudo()
            .users.filtered(
                lambda user: (
                    user.active
                    and not user._is_superuser()
                    and user._is_internal()
                    and self.company_id in user.company_ids
                )
            )
        )
        return admins.sorted("id")[:1] or self.create_uid


def _is_token_error(error):
    """Whether a PixApiError came from the OAuth2 token endpoint, not from the API."""
    return not error.type.startswith(ERROR_TYPE_PREFIX) and error.type in OAUTH_ERRORS


def _write_private(folder, name, data):
    """Write ``data`` to ``folder/name`` readable by the server's user only; its path."""
    path = os.path.join(folder, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


class _ClientPool(contextlib.ExitStack):
    """The Pix API clients of a run, one per connection, closed when the run ends."""

    def __init__(self):
        super().__init__()
        self.clients = {}

    def get(self, connection):
        if connection.id not in self.clients:
            self.clients[connection.id] = self.enter_context(connection._get_client())
        return self.clients[connection.id]
