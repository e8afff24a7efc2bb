import base64
import datetime

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import certificate as certificate_engine

EXPIRY_WARNING_DAYS = 30


class RbmNfseCertificate(models.Model):
    """The company's A1 certificate (ICP-Brasil e-CNPJ, PKCS#12 and its password): it signs
    the DPS and opens the mutual TLS connection to the Sefin Nacional. Only administrators
    (Settings) read this model; the issuing code reads it with sudo."""

    _name = "rbm.nfse.certificate"
    _description = "NFS-e A1 Certificate"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    file = fields.Binary(string="PKCS#12 File", required=True, attachment=False)
    file_name = fields.Char()
    password = fields.Char(required=True)
    subject = fields.Char(readonly=True)
    cnpj = fields.Char(string="CNPJ", readonly=True)
    expires_at = fields.Datetime(string="Expires On", readonly=True)
    expiry_warned = fields.Boolean(readonly=True, copy=False)

    @api.depends("subject", "expires_at")
    def _compute_name(self):
        for certificate in self:
            certificate.name = certificate.subject or _("A1 certificate")

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
            vals.update(self._read_file(vals.get("file"), vals.get("password"), company))
        return super().create(vals_list)

    def write(self, vals):
        if {"file", "password", "company_id"} & set(vals):
            for certificate in self:
                company = (
                    self.env["res.company"].browse(vals["company_id"])
                    if vals.get("company_id")
                    else certificate.company_id
                )
                data = vals.get("file", certificate.file)
                password = vals.get("password", certificate.password)
                read = self._read_file(data, password, company)
                super(RbmNfseCertificate, certificate).write(
                    {**vals, **read, "expiry_warned": False}
                )
            return True
        return super().write(vals)

    @api.model
    def _read_file(self, data, password, company):
        """Subject, CNPJ and expiry of the PKCS#12 ``data`` (base64); refused when it cannot
        be opened, has expired or was issued to another CNPJ than the company's."""
        if not data:
            raise ValidationError(_("Upload the certificate's PKCS#12 file (.pfx or .p12)."))
        try:
            a1 = certificate_engine.load_pkcs12(base64.b64decode(data), password or "")
        except certificate_engine.CertificateError as error:
            raise ValidationError(
                _(
                    "The certificate could not be opened (wrong password or not a PKCS#12 "
                    "file): %(reason)s",
                    reason=str(error),
                )
            ) from error
        if a1.expired():
            raise ValidationError(
                _(
                    "The certificate expired on %(date)s.",
                    date=a1.not_after.date().isoformat(),
                )
            )
        company_cnpj = company._nfse_cnpj()
        if a1.cnpj != company_cnpj:
            raise ValidationError(
                _(
                    "The certificate was issued to CNPJ %(certificate)s, but the company "
                    "%(company)s has CNPJ %(cnpj)s: it cannot sign its NFS-e.",
                    certificate=a1.cnpj or _("(none)"),
                    company=company.display_name,
                    cnpj=company_cnpj or _("(none)"),
                )
            )
        return {
            "subject": a1.subject,
            "cnpj": a1.cnpj,
            "expires_at": a1.not_after.astimezone(datetime.UTC).replace(tzinfo=None),
        }

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    def _load(self):
        """The opened certificate (engine ``A1Certificate``)."""
        self.ensure_one()
        return certificate_engine.load_pkcs12(base64.b64decode(self.file), self.password)

    @api.model
    def _cron_warn_expiry(self):
        """One warning activity per certificate, 30 days before it expires."""
        limit = fields.Datetime.now() + datetime.timedelta(days=EXPIRY_WARNING_DAYS)
        expiring = self.search([("expires_at", "<=", limit), ("expiry_warned", "=", False)])
        for certificate in expiring:
            certificate.activity_schedule(
                "mail.mail_activity_data_warning",
                date_deadline=certificate.expires_at.date(),
                summary=_("The NFS-e certificate expires soon"),
                note=_(
                    "The A1 certificate %(subject)s of %(company)s expires on %(date)s: upload "
                    "its renewal, or the NFS-e can no longer be issued.",
                    subject=certificate.subject,
                    company=certificate.company_id.display_name,
                    date=certificate.expires_at.date().isoformat(),
                ),
                user_id=certificate.create_uid.id or self.env.ref("base.user_admin").id,
            )
        expiring.expiry_warned = True
        return expiring
