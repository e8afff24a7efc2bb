from odoo import models


class ProductTemplate(models.Model):
    """The service data of the NFS-e for this product; empty values are taken from the
    company's defaults (Settings > NFS-e), and a plan line may override them."""

    _inherit = ["product.template", "rbm.nfse.service.mixin"]
    _name = "product.template"
