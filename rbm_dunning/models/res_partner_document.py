"""The Brazilian tax ID (CPF / CNPJ) of partners, numeric or alphanumeric.

One rule, the engine's (``engine.checkdigits``): a CPF has 11 digits; a CNPJ
14 characters, the first 12 digits or letters A-Z (the alphanumeric CNPJ the
Receita Federal issues since July 2026, IN RFB 2.229/2024), the last 2 numeric
check digits. For partners whose (commercial) country is Brazil:

- the Tax ID is checked with that rule here when no other module checks it;
  with Odoo's VAT check installed (``base_vat``, pulled in by ``l10n_br``),
  ``rbm_base_vat`` makes Odoo's own Brazilian check use the same rule;
- a valid Tax ID is stored with its mask (``12.ABC.345/01DE-35``,
  ``390.533.447-05``), letters upper-cased, whatever way it was typed.

The context key ``no_vat_validation`` (Odoo's, for data pushed from outside)
skips the check, as Odoo's own does.
"""

from odoo import api, models
from odoo.exceptions import ValidationError

from ..engine.checkdigits import DocumentError, format_document, validate_document


class ResPartner(models.Model):
    _inherit = "res.partner"

    def _rbm_is_brazilian(self):
        self.ensure_one()
        partner = self.commercial_partner_id or self
        return (partner.country_id or self.country_id).code == "BR"

    @api.model
    def _rbm_document_reason(self, error):
        """Translated reason of the engine's ``DocumentError``."""
        reasons = {
            "length": self.env._(
                "a CPF has 11 digits and a CNPJ 14 characters (12 digits or letters A-Z, "
                "then 2 check digits)"
            ),
            "characters": self.env._(
                "a CPF has only digits; a CNPJ has 12 digits or letters A-Z followed by 2 "
                "numeric check digits"
            ),
            "repeated": self.env._("a number made of one repeated character is not issued"),
            "missing": self.env._("it is empty"),
            "check_digits": self.env._("its check digits are wrong"),
        }
        return reasons.get(getattr(error, "reason", None), str(error))

    @api.model
    def _rbm_document_error(self, value, error, partner_name=None):
        """Translated sentence saying why ``value`` is not a CPF/CNPJ
        (``error``: the engine's ``DocumentError``), naming the partner and
        the field."""
        reason = self._rbm_document_reason(error)
        if partner_name:
            return self.env._(
                "Tax ID (CPF/CNPJ) of %(partner)s: %(value)s is not valid: %(reason)s.",
                partner=partner_name,
                value=value,
                reason=reason,
            )
        return self.env._(
            "Tax ID (CPF/CNPJ): %(value)s is not valid: %(reason)s.", value=value, reason=reason
        )

    @api.constrains("vat", "country_id")
    def _check_rbm_br_document(self):
        # with base_vat installed, Odoo's own check (check_vat) applies the
        # same rule through rbm_base_vat: not checked twice
        if self.env.context.get("no_vat_validation") or hasattr(self, "check_vat"):
            return
        for partner in self:
            if not partner.vat or len(partner.vat) == 1 or not partner._rbm_is_brazilian():
                continue
            try:
                validate_document(partner.vat)
            except DocumentError as error:
                raise ValidationError(
                    self._rbm_document_error(partner.vat, error, partner.display_name)
                ) from None

    def _rbm_mask_br_document(self):
        """Store the valid Brazilian Tax IDs of ``self`` with their mask."""
        for partner in self:
            if not partner.vat or not partner._rbm_is_brazilian():
                continue
            try:
                masked = format_document(partner.vat)
            except DocumentError:
                continue  # left as typed (checked by the constraints, or not at all)
            if masked != partner.vat:
                partner.with_context(rbm_masking_document=True).write({"vat": masked})

    @api.model_create_multi
    def create(self, vals_list):
        # masked in the values when the country is given (no second write)
        brazil = self.env.ref("base.br", raise_if_not_found=False)
        for vals in vals_list:
            if brazil and vals.get("vat") and vals.get("country_id") == brazil.id:
                try:
                    vals["vat"] = format_document(vals["vat"])
                except DocumentError:
                    pass  # left to the constraints
        partners = super().create(vals_list)
        if not self.env.context.get("rbm_masking_document"):
            partners.filtered("vat")._rbm_mask_br_document()
        return partners

    def write(self, vals):
        result = super().write(vals)
        if ("vat" in vals or "country_id" in vals) and not self.env.context.get(
            "rbm_masking_document"
        ):
            self.filtered("vat")._rbm_mask_br_document()
        return result
