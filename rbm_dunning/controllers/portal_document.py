from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal

from ..engine.checkdigits import DocumentError, validate_document


class RbmDocumentPortal(CustomerPortal):
    """The customer's own details form (/my/account): a Brazilian Tax ID
    (CPF, numeric or alphanumeric CNPJ) is checked with the product's rule,
    also when Odoo's VAT check (base_vat) is not installed; a wrong one is
    shown on the form, never stored."""

    def details_form_validate(self, data, partner_creation=False):
        error, error_message = super().details_form_validate(
            data, partner_creation=partner_creation
        )
        vat = data.get("vat")
        partner = request.env.user.partner_id
        if not vat or "vat" in error or vat == partner.vat:
            return error, error_message
        if not (partner_creation or partner.can_edit_vat()):  # refused by Odoo already
            return error, error_message
        country = request.env["res.country"].browse(
            int(data["country_id"]) if str(data.get("country_id") or "").isdigit() else []
        )
        if (country or partner.commercial_partner_id.country_id).code != "BR":
            return error, error_message
        try:
            validate_document(vat)
        except DocumentError as exc:
            error["vat"] = "error"
            error_message.append(request.env["res.partner"]._rbm_document_error(vat, exc))
        return error, error_message
