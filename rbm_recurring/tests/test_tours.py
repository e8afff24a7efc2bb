from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install", "rbm_tours")
class TestBillingClerkTour(HttpCase):
    """The billing clerk's journey clicked in the browser: plan, contract,
    activation, invoice now, a plan change with its preview, cancellation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clerk = new_test_user(
            cls.env,
            login="rbm_clerk",
            groups="base.group_user,account.group_account_invoice,"
            "rbm_recurring.rbm_recurring_group_manager",
            name="Clara Faturamento",
        )
        product = cls.env["product.product"].create
        cls.essential = product(
            {
                "name": "Tour Essencial",
                "type": "service",
                "rbm_billing_type": "recurring",
                "taxes_id": [Command.clear()],
            }
        )
        cls.premium = product(
            {
                "name": "Tour Premium",
                "type": "service",
                "rbm_billing_type": "recurring",
                "taxes_id": [Command.clear()],
            }
        )
        cls.premium_plan = cls.env["rbm.plan"].create(
            {
                "name": "Plano Tour Premium",
                "line_ids": [Command.create({"product_id": cls.premium.id, "price_unit": 199.90})],
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Tour Cliente Ltda", "is_company": True}
        )

    def test_billing_clerk(self):
        self.start_tour("/odoo", "rbm_billing_clerk_tour", login="rbm_clerk")
        plan = self.env["rbm.plan"].search([("name", "=", "Plano Tour Essencial")])
        self.assertEqual(plan.line_ids.product_id, self.essential)
        self.assertEqual(plan.recurring_total, 99.90)
        contract = self.env["rbm.contract"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(contract), 1)
        self.assertEqual(contract.plan_id, self.premium_plan)
        self.assertEqual(contract.payment_mode, "boleto")
        self.assertEqual(contract.cancel_reason_id.name, "Too expensive")
        invoices = contract.invoice_ids.filtered(lambda m: m.move_type == "out_invoice")
        # the first period, billed in advance by "Invoice now" at the plan's price
        first = invoices.sorted("id")[:1]
        self.assertEqual(first.state, "posted")
        self.assertEqual(first.amount_total, 99.90)
        self.assertEqual(len(contract.change_ids), 1)
