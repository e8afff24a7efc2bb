from odoo import _, models


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    def _rbm_get_portal_tokens(self):
        """Saved cards the customer of this contract can pay it with (sudo)."""
        self.ensure_one()
        return (
            self.env["payment.token"]
            .sudo()
            .search(
                [
                    ("partner_id", "child_of", self.commercial_partner_id.id),
                    ("company_id", "=", self.company_id.id),
                    ("provider_id.state", "in", ("enabled", "test")),
                ]
            )
        )

    def _rbm_set_card(self, token, author):
        """Pay this contract with the saved card ``token`` from now on."""
        self.ensure_one()
        self.write({"payment_mode": "card", "payment_token_id": token.id})
        self.message_post(
            body=_("Saved card chosen by the customer: %(card)s", card=token.display_name),
            author_id=author.id,
            subtype_xmlid="mail.mt_note",
        )
