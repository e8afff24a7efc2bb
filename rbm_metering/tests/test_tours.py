from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install", "rbm_tours")
class TestIntegratorTour(HttpCase):
    """The integrator's journey clicked in the browser: an API key from the
    back office, events sent with it, the usage statement priced."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        new_test_user(
            cls.env,
            login="rbm_integrator",
            groups="base.group_user,account.group_account_invoice,"
            "rbm_recurring.rbm_recurring_group_manager,rbm_metering.rbm_metering_group_user",
            name="Ivo Integrador",
        )
        cls.metric = cls.env["rbm.metric"].create(
            {"code": "api_calls", "name": "Chamadas de API", "unit_label": "chamadas"}
        )
        product = cls.env["product.product"].create(
            {
                "name": "API",
                "type": "service",
                "rbm_billing_type": "recurring",
                "taxes_id": [Command.clear()],
            }
        )
        plan = cls.env["rbm.plan"].create(
            {
                "name": "Plano API",
                "billing_mode": "arrears",
                "line_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "name": "Chamadas de API",
                            "metric_id": cls.metric.id,
                            "price_model": "per_unit",
                            "price_unit": 0.05,
                        }
                    )
                ],
            }
        )
        partner = cls.env["res.partner"].create(
            {"name": "Integra Tecnologia", "is_company": True, "tz": "America/Sao_Paulo"}
        )
        # usage is counted in the customer's days (README): the contract starts
        # on the customer's today, which is not the test user's near midnight
        cls.contract = cls.env["rbm.contract"].create(
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "reference": "INTEGRA-01",
                "date_start": partner._rbm_get_today(),
            }
        )
        cls.contract.action_activate()
        # a contact of the customer with portal access
        contact = cls.env["res.partner"].create(
            {"name": "Ana Integra", "parent_id": partner.id, "email": "ana@integra.example.com"}
        )
        new_test_user(
            cls.env, login="integra_portal", groups="base.group_portal", partner_id=contact.id
        )

    def test_integrator(self):
        self.start_tour("/odoo", "rbm_integrator_tour", login="rbm_integrator")
        events = self.env["rbm.usage"].search([("contract_id", "=", self.contract.id)])
        self.assertEqual(sorted(events.mapped("quantity")), [300.0, 1200.0])
        # received with the key created in the browser
        self.assertEqual(events.api_key_id.name, "Plataforma Integra - produção")
        self.assertEqual(events.api_key_id.create_uid.login, "rbm_integrator")

    def test_portal_usage_statement(self):
        """The customer reads the usage on the portal."""
        results = self.env["rbm.usage"]._ingest(
            self.contract.company_id,
            [
                {
                    "idempotency_key": "p-1",
                    "metric": "api_calls",
                    "contract_id": self.contract.id,
                    "quantity": 1200,
                },
                {
                    "idempotency_key": "p-2",
                    "metric": "api_calls",
                    "contract_id": self.contract.id,
                    "quantity": 300,
                },
            ],
        )
        self.assertEqual([r["status"] for r in results], ["accepted", "accepted"])
        self.start_tour("/my", "rbm_portal_usage_tour", login="integra_portal")
