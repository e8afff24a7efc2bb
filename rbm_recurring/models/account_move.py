from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    rbm_contract_id = fields.Many2one(
        "rbm.contract",
        string="Subscription Contract",
        index="btree_not_null",
        copy=False,
        readonly=True,
    )
    rbm_period_start = fields.Date(string="Billing Period Start", copy=False, readonly=True)
    rbm_period_end = fields.Date(string="Billing Period End", copy=False, readonly=True)
    rbm_change_id = fields.Many2one(
        "rbm.contract.change",
        string="Contract Change",
        index="btree_not_null",
        copy=False,
        readonly=True,
    )

    rbm_termination_fee = fields.Boolean(
        string="Early-Termination Fee",
        copy=False,
        readonly=True,
        help="The early-termination fee of its contract: billed once per contract.",
    )

    def init(self):
        super().init()
        # One early-termination fee per contract (a cancelled one does not count).
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_move_rbm_termination_fee_uniq
                ON account_move (rbm_contract_id)
             WHERE rbm_termination_fee
               AND state != 'cancel'
            """
        )
        # One invoice per contract and period, whatever runs concurrently.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_move_rbm_contract_period_uniq
                ON account_move (rbm_contract_id, rbm_period_start)
             WHERE rbm_contract_id IS NOT NULL
               AND rbm_period_start IS NOT NULL
               AND move_type = 'out_invoice'
            """
        )


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    rbm_charge_id = fields.Many2one(
        "rbm.contract.charge",
        string="Contract Charge",
        index="btree_not_null",
        copy=False,
        ondelete="set null",
    )
    rbm_contract_line_id = fields.Many2one(
        "rbm.contract.line",
        string="Contract Line",
        index="btree_not_null",
        copy=False,
        ondelete="set null",
    )
