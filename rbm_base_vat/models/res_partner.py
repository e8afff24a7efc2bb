from odoo import api, models

from odoo.addons.rbm_dunning.engine.checkdigits import (
    DocumentError,
    is_valid_cnpj,
    is_valid_cpf,
    validate_document,
)


class ResPartner(models.Model):
    """Odoo's Brazilian VAT check, extended rather than turned off: the
    python-stdnum Odoo 18 ships predates the alphanumeric CNPJ (IN RFB
    2.229/2024) and refuses it, so the check uses the product's rule
    (numeric CPF and CNPJ as before, plus letters A-Z in the CNPJ's first
    twelve characters), and its message says what is wrong."""

    _inherit = "res.partner"

    def check_vat_br(self, vat):
        return is_valid_cpf(vat) or is_valid_cnpj(vat)

    @api.model
    def _build_vat_error_message(self, country_code, wrong_vat, record_label):
        if country_code != "br":
            return super()._build_vat_error_message(country_code, wrong_vat, record_label)
        try:
            validate_document(wrong_vat)
        except DocumentError as error:
            partner = record_label if "False" not in record_label else None
            return "\n" + self._rbm_document_error(wrong_vat, error, partner)
        return super()._build_vat_error_message(country_code, wrong_vat, record_label)
