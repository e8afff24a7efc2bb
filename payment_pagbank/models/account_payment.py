from odoo import models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    def init(self):
        """One payment per payment transaction: a repeated or concurrent notification can never
        post a transaction twice."""
        super().init()
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_payment_payment_transaction_id_uniq
                ON account_payment (payment_transaction_id)
            """
        )
