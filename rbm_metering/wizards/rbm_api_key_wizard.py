from odoo import _, fields, models


class RbmApiKeyWizard(models.TransientModel):
    _name = "rbm.api.key.wizard"
    _description = "New Usage API Key"

    name = fields.Char(required=True, help="What uses the key (e.g. platform production).")
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        domain=lambda self: [("id", "in", self.env.user.company_ids.ids)],
    )

    def action_generate(self):
        self.ensure_one()
        _record, key = self.env["rbm.api.key"]._generate(self.name, self.company_id)
        return {
            "type": "ir.actions.act_window",
            "name": _("API Key Ready"),
            "res_model": "rbm.api.key.show",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_key": key},
        }


class RbmApiKeyShow(models.AbstractModel):
    """Shows a new key once; nothing is stored (like res.users.apikeys.show)."""

    _name = "rbm.api.key.show"
    _description = "Show New Usage API Key"

    id = fields.Id()
    key = fields.Char(readonly=True)
