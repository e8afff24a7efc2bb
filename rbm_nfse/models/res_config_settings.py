from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    nfse_enabled = fields.Boolean(related="company_id.nfse_enabled", readonly=False)
    nfse_municipal_registration = fields.Char(
        related="company_id.nfse_municipal_registration", readonly=False
    )
    nfse_city_ibge = fields.Char(related="company_id.nfse_city_ibge", readonly=False)
    nfse_regime = fields.Selection(related="company_id.nfse_regime", readonly=False)
    nfse_simples_apportionment = fields.Selection(
        related="company_id.nfse_simples_apportionment", readonly=False
    )
    nfse_special_regime = fields.Selection(related="company_id.nfse_special_regime", readonly=False)
    nfse_environment = fields.Selection(related="company_id.nfse_environment", readonly=False)
    nfse_url_restricted = fields.Char(related="company_id.nfse_url_restricted", readonly=False)
    nfse_url_production = fields.Char(related="company_id.nfse_url_production", readonly=False)
    nfse_series = fields.Char(related="company_id.nfse_series", readonly=False)
    nfse_layout_version = fields.Selection(related="company_id.nfse_layout_version", readonly=False)
    nfse_issue_moment = fields.Selection(related="company_id.nfse_issue_moment", readonly=False)
    nfse_days_before_due = fields.Integer(related="company_id.nfse_days_before_due", readonly=False)
    nfse_late_days = fields.Integer(related="company_id.nfse_late_days", readonly=False)
    nfse_start_date = fields.Date(related="company_id.nfse_start_date", readonly=False)
    nfse_service_code = fields.Char(related="company_id.nfse_service_code", readonly=False)
    nfse_municipal_code = fields.Char(related="company_id.nfse_municipal_code", readonly=False)
    nfse_nbs_code = fields.Char(related="company_id.nfse_nbs_code", readonly=False)
    nfse_iss_rate = fields.Float(related="company_id.nfse_iss_rate", readonly=False)
    nfse_iss_withheld = fields.Selection(related="company_id.nfse_iss_withheld", readonly=False)
    nfse_cp_rate = fields.Float(related="company_id.nfse_cp_rate", readonly=False)
    nfse_irrf_rate = fields.Float(related="company_id.nfse_irrf_rate", readonly=False)
    nfse_csll_rate = fields.Float(related="company_id.nfse_csll_rate", readonly=False)
    nfse_ibscbs_cst = fields.Char(related="company_id.nfse_ibscbs_cst", readonly=False)
    nfse_ibscbs_class = fields.Char(related="company_id.nfse_ibscbs_class", readonly=False)
    nfse_operation_indicator = fields.Char(
        related="company_id.nfse_operation_indicator", readonly=False
    )
