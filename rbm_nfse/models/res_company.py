import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import dps as dps_engine
from ..tools import ISSUE_MOMENTS, SEFIN_URLS


class ResCompany(models.Model):
    _inherit = ["res.company", "rbm.nfse.service.mixin"]
    _name = "res.company"

    nfse_enabled = fields.Boolean(string="Issue NFS-e")
    nfse_municipal_registration = fields.Char(
        string="Municipal Registration", help="Inscrição municipal (IM) of the company."
    )
    nfse_city_ibge = fields.Char(
        string="Municipality IBGE Code",
        size=7,
        help="The 7-digit IBGE code of the municipality where the company is registered.",
    )
    nfse_regime = fields.Selection(
        [
            ("simples", "Simples Nacional (ME/EPP)"),
            ("mei", "MEI"),
            ("normal", "Not in the Simples Nacional"),
        ],
        string="Tax Regime",
        default="simples",
        help="opSimpNac of the DPS.",
    )
    nfse_simples_apportionment = fields.Selection(
        [
            ("1", "Federal and municipal taxes through the Simples Nacional"),
            ("2", "Federal taxes through the Simples Nacional, ISS outside it"),
            ("3", "Federal and municipal taxes outside the Simples Nacional"),
        ],
        string="Simples Nacional Apportionment",
        default="1",
        help="regApTribSN of the DPS (ME/EPP only).",
    )
    nfse_special_regime = fields.Selection(
        [
            ("0", "None"),
            ("1", "Cooperative act"),
            ("2", "Estimate"),
            ("3", "Municipal micro-enterprise"),
            ("4", "Notary or registrar"),
            ("5", "Self-employed professional"),
            ("6", "Professional partnership"),
            ("9", "Other"),
        ],
        string="Special Tax Regime",
        default="0",
        help="regEspTrib of the DPS.",
    )
    nfse_environment = fields.Selection(
        [("2", "Restricted production (tests)"), ("1", "Production")],
        string="NFS-e Environment",
        default="2",
    )
    nfse_url_restricted = fields.Char(
        string="Sefin URL (Restricted Production)", default=SEFIN_URLS["2"]
    )
    nfse_url_production = fields.Char(string="Sefin URL (Production)", default=SEFIN_URLS["1"])
    nfse_series = fields.Char(string="DPS Series", default="1", size=5)
    nfse_layout_version = fields.Selection([("1.01", "1.01")], string="DPS Layout", default="1.01")
    nfse_issue_moment = fields.Selection(
        ISSUE_MOMENTS, string="Issue the NFS-e", default="post", required=True
    )
    nfse_days_before_due = fields.Integer(string="Days Before Due Date", default=5)
    nfse_late_days = fields.Integer(
        string="NFS-e Late After (Days)",
        default=3,
        help="An NFS-e not issued this many days after its invoice date shows in the "
        '"Late" filters of the NFS-e and invoice lists.',
    )
    nfse_start_date = fields.Date(
        string="NFS-e From",
        help="Invoices dated before this day get no NFS-e (they were issued elsewhere).",
    )
    nfse_iss_withheld = fields.Selection(default="no")
    nfse_certificate_ids = fields.One2many("rbm.nfse.certificate", "company_id")

    @api.constrains("nfse_city_ibge", "nfse_series", "nfse_url_restricted", "nfse_url_production")
    def _check_nfse_settings(self):
        for company in self:
            if company.nfse_city_ibge and not re.fullmatch(r"\d{7}", company.nfse_city_ibge):
                raise ValidationError(_("The municipality's IBGE code must have 7 digits."))
            if company.nfse_series and not re.fullmatch(r"\d{1,5}", company.nfse_series):
                raise ValidationError(_("The DPS series has 1 to 5 digits."))
            for url in (company.nfse_url_restricted, company.nfse_url_production):
                if url and not url.startswith("https://"):
                    raise ValidationError(_("The Sefin Nacional is reached over https only."))

    # ------------------------------------------------------------
    # BUSINESS METHODS
    # ------------------------------------------------------------

    def _nfse_cnpj(self):
        self.ensure_one()
        return dps_engine.only_digits(self.vat)

    def _nfse_url(self):
        self.ensure_one()
        if self.nfse_environment == "1":
            return self.nfse_url_production or SEFIN_URLS["1"]
        return self.nfse_url_restricted or SEFIN_URLS["2"]

    def _nfse_certificate(self):
        """The company's A1 certificate (the latest uploaded), or a UserError."""
        self.ensure_one()
        certificate_sudo = (
            self.env["rbm.nfse.certificate"]
            .sudo()
            .search([("company_id", "=", self.id)], order="id desc", limit=1)
        )
        if not certificate_sudo:
            raise UserError(
                _("The company %(company)s has no A1 certificate.", company=self.display_name)
            )
        return certificate_sudo
