from odoo import _, api, fields, models

from odoo.addons.rbm_recurring.tools import check_staff_access

from .rbm_pix_authorization import LIVE_STATES, STATES


class RbmContract(models.Model):
    _inherit = "rbm.contract"

    payment_mode = fields.Selection(
        selection_add=[("pix_automatico", "Pix Automático")],
        ondelete={"pix_automatico": "set invoice"},
    )
    rbm_pix_authorization_ids = fields.One2many(
        "rbm.pix.authorization", "contract_id", string="Pix Automático Authorizations"
    )
    rbm_pix_authorization_id = fields.Many2one(
        "rbm.pix.authorization",
        string="Pix Automático Authorization",
        compute="_compute_rbm_pix_authorization_id",
        help="The live authorization (awaiting the payer or approved), else the latest one.",
    )
    rbm_pix_authorization_state = fields.Selection(
        selection=STATES,
        string="Pix Automático Status",
        compute="_compute_rbm_pix_authorization_id",
    )
    rbm_pix_status_text = fields.Char(
        string="Pix Automático Details", compute="_compute_rbm_pix_authorization_id"
    )
    rbm_pix_copy_paste = fields.Char(
        string="Pix Automático Code", compute="_compute_rbm_pix_authorization_id"
    )
    rbm_pix_fallback = fields.Selection(
        [("none", "None"), ("boleto", "Boleto"), ("card", "Saved card")],
        string="Fallback When a Cycle Fails",
        default="none",
        required=True,
        tracking=True,
        help="How an invoice is collected when its Pix Automático charge is rejected or "
        "expires after the retries the authorization allows.",
    )

    @api.depends(
        "rbm_pix_authorization_ids.state",
        "rbm_pix_authorization_ids.status_text",
        "rbm_pix_authorization_ids.pix_copy_paste",
    )
    def _compute_rbm_pix_authorization_id(self):
        for contract in self:
            auths = contract.rbm_pix_authorization_ids.sorted("id", reverse=True)
            auth = auths.filtered(lambda a: a.state in LIVE_STATES)[:1] or auths[:1]
            contract.rbm_pix_authorization_id = auth
            contract.rbm_pix_authorization_state = auth.state
            contract.rbm_pix_status_text = auth.status_text
            contract.rbm_pix_copy_paste = auth.pix_copy_paste

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        ending = self.browse()
        if vals.get("state") in ("closed", "cancelled", "expired"):
            ending = self.filtered(lambda c: c.state != vals["state"])
        leaving = self.browse()
        if "payment_mode" in vals and not self.env.context.get("rbm_pix_authorization_sync"):
            # a real change of the payment method (the authorization's own sync excepted)
            leaving = self.filtered(lambda c: c.payment_mode != vals["payment_mode"])
            if vals["payment_mode"] == "pix_automatico":
                leaving = self.browse()
        result = super().write(vals)
        for contracts, note in (
            (ending, _("The contract ended.")),
            (leaving - ending, _("The contract is now paid another way.")),
        ):
            contracts.sudo().rbm_pix_authorization_ids.filtered(
                lambda a: a.state in LIVE_STATES
            )._request_cancel(note)
        return result

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_rbm_pix_authorize(self):
        """Open the choice of the journey of a new Pix Automático authorization."""
        check_staff_access(self, "write")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Authorize Pix Automático"),
            "res_model": "rbm.pix.authorization.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def action_rbm_pix_cancel_authorization(self):
        check_staff_access(self, "write")
        self.rbm_pix_authorization_id.filtered(lambda a: a.state in LIVE_STATES).action_cancel()
        return True

    # ------------------------------------------------------------
    # PORTAL
    # ------------------------------------------------------------

    def _rbm_pix_authorize_sudo(self, author):
        """The customer asks to authorize Pix Automático from the portal (journey 2: a QR
        code in their bank's app). ``self`` is the contract as sudo, already checked to be
        the customer's own by the portal controller."""
        self.ensure_one()
        authorization = self.env["rbm.pix.authorization"]._create_for_contract(self, "2")
        self.message_post(
            body=_("Pix Automático authorization requested by the customer from the portal."),
            author_id=author.id,
            subtype_xmlid="mail.mt_note",
        )
        return authorization

    def _rbm_pix_portal_authorization(self):
        """What the portal shows: the live authorization, else the latest one if it
        ended less than a month ago."""
        self.ensure_one()
        auth = self.rbm_pix_authorization_id
        if auth.state in LIVE_STATES:
            return auth
        if auth.ended_on and auth.ended_on > fields.Datetime.subtract(
            fields.Datetime.now(), days=30
        ):
            return auth
        return auth.browse()

    # Pix Automático cycle charges (smart button)
    rbm_pix_cycle_charge_count = fields.Integer(
        string="Pix Automático Charges",
        compute="_compute_rbm_pix_cycle_charge_count",
        groups="account.group_account_invoice,rbm_recurring.rbm_recurring_group_manager",
    )

    def _compute_rbm_pix_cycle_charge_count(self):
        counts = dict(
            self.env["rbm.pix.cycle.charge"]._read_group(
                [("contract_id", "in", self.ids)], ["contract_id"], ["__count"]
            )
        )
        for contract in self:
            contract.rbm_pix_cycle_charge_count = counts.get(contract, 0)
