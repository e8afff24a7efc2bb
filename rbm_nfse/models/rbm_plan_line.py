from odoo import models


class RbmPlanLine(models.Model):
    """The service data of the NFS-e for this plan line, over its product's."""

    _inherit = ["rbm.plan.line", "rbm.nfse.service.mixin"]
    _name = "rbm.plan.line"
