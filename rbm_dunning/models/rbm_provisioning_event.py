from odoo import fields, models


class RbmProvisioningEvent(models.Model):
    _inherit = "rbm.provisioning.event"

    event_type = fields.Selection(
        selection_add=[("collection_step", "Collection step")],
        ondelete={"collection_step": "cascade"},
    )
