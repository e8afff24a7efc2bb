import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Odoo Community has res.city only with base_address_extended (and l10n_br
    # builds on it): the IBGE code of the partner's municipality is kept here,
    # on the partner, so the NFS-e works with or without those addons.
    nfse_city_ibge = fields.Char(
        string="Municipality IBGE Code",
        size=7,
        help="The 7-digit IBGE code of the customer's municipality, required on the NFS-e "
        "(for example 3550308 for São Paulo).",
    )

    @api.constrains("nfse_city_ibge")
    def _check_nfse_city_ibge(self):
        for partner in self:
            if partner.nfse_city_ibge and not re.fullmatch(r"\d{7}", partner.nfse_city_ibge):
                raise ValidationError(
                    _(
                        "The IBGE code of %(partner)s must have 7 digits.",
                        partner=partner.display_name,
                    )
                )
