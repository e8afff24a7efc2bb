from datetime import date, timedelta

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
        self.assertEqual(contract.payment_mode, "invoice")
        self.assertEqual(contract.cancel_reason_id.name, "Too expensive")
        invoices = contract.invoice_ids.filtered(lambda m: m.move_type == "out_invoice")
        # the first period, billed in advance by "Invoice now" at the plan's price
        first = invoices.sorted("id")[:1]
        self.assertEqual(first.state, "posted")
        self.assertEqual(first.amount_total, 99.90)
        self.assertEqual(len(contract.change_ids), 1)


@tagged("post_install", "-at_install", "rbm_tours")
class TestCustomerValueTour(HttpCase):
    """The customer form's Subscription Value tab and the dashboard's
    tooltips, in the browser (today is the real day: dates relative to it)."""

    def test_customer_value_and_kpi_tooltips(self):
        new_test_user(
            self.env,
            login="rbm_analyst",
            groups="base.group_user,account.group_account_invoice,"
            "rbm_recurring.rbm_recurring_group_manager",
            name="Ana Receita",
        )
        product = self.env["product.product"].create(
            {"name": "Tour Valor", "type": "service", "taxes_id": [Command.clear()]}
        )
        plan = self.env["rbm.plan"].create(
            {
                "name": "Plano Tour Valor",
                "line_ids": [Command.create({"product_id": product.id, "price_unit": 250.0})],
            }
        )
        customer = self.env["res.partner"].create(
            {"name": "Cliente Valor Ltda", "is_company": True}
        )
        today = date.today()
        # two months before the current one: three months of history
        start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        start = (start - timedelta(days=1)).replace(day=1)
        contract = self.env["rbm.contract"].create(
            {"partner_id": customer.id, "plan_id": plan.id, "date_start": start}
        )
        contract.action_activate()
        # the first period billed: 250 invoiced
        contract.env["rbm.billing.run"]._bill(contract, start)
        self.start_tour(
            f"/odoo/res.partner/{customer.id}", "rbm_customer_value_tour", login="rbm_analyst"
        )


@tagged("post_install", "-at_install")
class TestContractScreens(HttpCase):
    def test_kanban_follows_the_life_cycle(self):
        groups = self.env["rbm.contract"].web_read_group([], ["mrr:sum"], ["state"])["groups"]
        states = [group["state"] for group in groups]
        running = ["draft", "trial", "active", "suspended"]
        # the running states first, in the order a contract lives them
        self.assertEqual(states[:4], running)
        self.assertEqual(
            states[4:], [s for s in ("closed", "cancelled", "expired") if s in states[4:]]
        )

    def test_header_next_invoice_amount(self):
        product = self.env["product.product"].create(
            {"name": "Cabeçalho", "type": "service", "rbm_billing_type": "recurring"}
        )
        plan = self.env["rbm.plan"].create(
            {
                "name": "Plano Cabeçalho",
                "line_ids": [
                    Command.create({"product_id": product.id, "quantity": 2, "price_unit": 49.95})
                ],
            }
        )
        partner = self.env["res.partner"].create({"name": "Cliente Cabeçalho"})
        contract = self.env["rbm.contract"].create({"partner_id": partner.id, "plan_id": plan.id})
        self.assertEqual(contract.next_invoice_amount, 0.0)  # a draft bills nothing
        contract.action_activate()
        # 2 × 49,95 = 99,90, the first period billed in advance
        self.assertEqual(contract.next_invoice_amount, 99.90)
        self.assertEqual(contract.next_invoice_date, contract.date_start)
