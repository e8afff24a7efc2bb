import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# field -> its number of digits; an empty value means "not set here"
_DIGITS = {
    "nfse_service_code": 6,
    "nfse_municipal_code": 3,
    "nfse_nbs_code": 9,
    "nfse_ibscbs_cst": 3,
    "nfse_ibscbs_class": 6,
    "nfse_operation_indicator": 6,
}


class RbmNfseServiceMixin(models.AbstractModel):
    """The service data of the NFS-e (the DPS's ``serv`` and taxes), shared by the company
    (its defaults), the product and the plan line. A value left empty (or a rate left at
    zero) is taken from the next level: plan line, then product, then company."""

    _name = "rbm.nfse.service.mixin"
    _description = "NFS-e Service Data"

    nfse_service_code = fields.Char(
        string="National Service Code",
        size=6,
        help="cTribNac: item, subitem and detail of the LC 116/2003 list, 6 digits "
        "(for example 010501 for licensing of software).",
    )
    nfse_municipal_code = fields.Char(
        string="Municipal Service Code", size=3, help="cTribMun: the municipality's own code."
    )
    nfse_nbs_code = fields.Char(
        string="NBS Code",
        size=9,
        help="cNBS: the 9-digit code of the Nomenclatura Brasileira de Serviços; required "
        "with the IBS/CBS group.",
    )
    nfse_iss_rate = fields.Float(
        string="ISS Rate (%)", digits=(5, 2), help="Between 2% and 5%; MEI informs none."
    )
    nfse_iss_withheld = fields.Selection(
        [("no", "Not withheld"), ("yes", "Withheld by the customer")],
        string="ISS Withholding",
    )
    nfse_cp_rate = fields.Float(string="INSS Withheld (%)", digits=(5, 2))
    nfse_irrf_rate = fields.Float(string="IRRF Withheld (%)", digits=(5, 2))
    nfse_csll_rate = fields.Float(string="CSLL Withheld (%)", digits=(5, 2))
    nfse_ibscbs_cst = fields.Char(
        string="IBS/CBS CST", size=3, help="CST of the IBS/CBS group (2026 test year)."
    )
    nfse_ibscbs_class = fields.Char(
        string="IBS/CBS Classification", size=6, help="cClassTrib of the IBS/CBS group."
    )
    nfse_operation_indicator = fields.Char(
        string="Operation Indicator", size=6, help="cIndOp of the IBS/CBS group."
    )

    @api.constrains(*_DIGITS)
    def _check_nfse_service_codes(self):
        for record in self:
            for name, count in _DIGITS.items():
                value = record[name]
                if value and not re.fullmatch(rf"\d{{{count}}}", value):
                    raise ValidationError(
                        _(
                            "%(field)s of %(record)s must have %(count)s digits.",
                            field=record._fields[name].get_description(self.env)["string"],
                            record=record.display_name,
                            count=count,
                        )
                    )
