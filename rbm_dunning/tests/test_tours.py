import base64
import json
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged

from .common import RbmDunningCase


@tagged("post_install", "-at_install", "rbm_tours")
class TestCollectionAgentTour(RbmDunningCase, HttpCase):
    """The collection agent's journey clicked in the browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the agent creates the collection account in the browser
        cls.account.unlink()
        account = cls.env["account.account"].create
        cls.interest_account = account(
            {"code": "TOUR01", "name": "Juros Tour", "account_type": "income_other"}
        )
        cls.fee_account = account(
            {"code": "TOUR02", "name": "Tarifas Tour", "account_type": "expense"}
        )
        cls.contract = cls.env["rbm.contract"].create(
            {
                "partner_id": cls.customer.id,
                "plan_id": cls.plan.id,
                "payment_mode": "boleto",
            }
        )

    def test_boleto_remittance_return_paid(self):
        self.start_tour("/odoo", "rbm_collection_agent_tour", login=self.env.user.login)
        account = self.env["rbm.collection.account"].search([("name", "=", "Itaú Tour 109")])
        self.assertEqual(
            (account.bank_code, account.branch, account.account_number, account.pix_key),
            ("341", "0810", "53678", "16727230000197"),
        )
        invoice = self.contract.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.amount_total, 150.0)
        boleto = invoice.rbm_boleto_ids
        self.assertEqual(boleto.collection_account_id, account)
        remittance = self.env["rbm.cnab.file"].search(
            [("collection_account_id", "=", account.id), ("direction", "=", "remittance")]
        )
        self.assertEqual(len(remittance), 1)
        self.assertIn(
            boleto.our_number_sequence,
            remittance.occurrence_ids.boleto_id.mapped("our_number_sequence"),
        )

        # the bank pays the boleto and sends its return file
        today = fields.Date.context_today(self.env.user)
        content = self._return_240(
            [
                {
                    "occurrence": "06",
                    "boleto": boleto,
                    "amount_paid": "150.00",
                    "occurrence_date": today,
                    "credit_date": today,
                }
            ],
            generated_on=today,
        )
        self.env["ir.attachment"].create(
            {"name": "RETORNO-TOUR.RET", "datas": base64.b64encode(content)}
        )
        self.start_tour("/odoo", "rbm_collection_return_tour", login=self.env.user.login)
        self.assertEqual(invoice.payment_state in ("paid", "in_payment"), True)
        self.assertEqual(boleto.state, "paid")
        returned = self.env["rbm.cnab.file"].search(
            [("collection_account_id", "=", account.id), ("direction", "=", "return")]
        )
        self.assertEqual(returned.filename, "RETORNO-TOUR.RET")

    def test_collection_log_on_overdue_invoice(self):
        self.env["rbm.collection.policy"].create(
            {
                "name": "Régua Tour",
                "is_default": True,
                "date_start": "2026-01-01",
                "step_ids": [
                    Command.create({"day_offset": 3, "action": "email", "name": "Lembrete D+3"})
                ],
            }
        )
        late = self.env["res.partner"].create(
            {"name": "João Atrasado", "email": "joao@example.com"}
        )
        invoice = self._bill_contract(partner=late)
        due = invoice.invoice_date_due
        with freeze_time(due + timedelta(days=3)):
            self.env["rbm.collection.run"]._run_all(due + timedelta(days=3))
        self.assertEqual(invoice.rbm_collection_log_ids.step_id.name, "Lembrete D+3")
        self.start_tour("/odoo", "rbm_collection_log_tour", login=self.env.user.login)


@tagged("post_install", "-at_install", "rbm_tours")
class TestClickEverywhere(HttpCase):
    """Every menu of the Subscriptions app (contracts, reporting, collection,
    usage, configuration) opened in the browser, each of its views (list,
    kanban, form, pivot, graph…) switched to and its filters applied, by
    Odoo's own crawler: any client error fails."""

    def test_click_every_rbm_menu_as_admin(self):
        self.browser_js(
            "/odoo",
            "odoo.loader.modules.get('@web/webclient/clickbot/clickbot_loader')"
            ".startClickEverywhere('rbm_recurring.rbm_recurring_menu_root');",
            "odoo.isReady === true",
            login="admin",
            timeout=600,
            success_signal="clickbot test succeeded",
        )

    def test_open_a_record_of_every_rbm_menu(self):
        """The crawler switches views but opens no record: the first record
        of each menu's model is opened in its form, in one browser session."""
        root = self.env.ref("rbm_recurring.rbm_recurring_menu_root")
        admin = self.env.ref("base.user_admin")
        menus = self.env["ir.ui.menu"].search([("id", "child_of", root.id)])
        pairs = []
        for action in menus.filtered("action").mapped("action"):
            if action._name != "ir.actions.act_window" or action.target == "new":
                continue
            if "form" not in (action.view_mode or "").split(","):
                continue
            # a record of the admin's current company (another would switch
            # company and reload the page)
            record = (
                self.env[action.res_model]
                .with_user(admin)
                .with_context(allowed_company_ids=admin.company_id.ids)
                .search([], limit=1)
            )
            if record:
                pairs.append([action.id, record.id, action.res_model])
        # a model of each addon has records in the demo data
        models = {model for _action, _id, model in pairs}
        self.assertLessEqual({"rbm.contract", "rbm.plan", "rbm.usage", "rbm.metric"}, models)
        code = (
            "const pairs = "
            + json.dumps(pairs)
            + ";\n"
            + """
            (async () => {
                const env = odoo.__WOWL_DEBUG__.root.env;
                const wait = (selector) => new Promise((resolve, reject) => {
                    const start = Date.now();
                    const check = () => {
                        if (document.querySelector(selector)) { resolve(); }
                        else if (Date.now() - start > 20000) { reject(selector); }
                        else { setTimeout(check, 50); }
                    };
                    check();
                });
                for (const [actionId, resId, model] of pairs) {
                    await env.services.action.doAction(actionId, {
                        viewType: "form", props: { resId }, clearBreadcrumbs: true,
                    });
                    await wait(".o_form_view .o_form_sheet_bg, .o_form_view .o_form_renderer");
                    console.log("opened", model, resId);
                }
                console.log("test successful");
            })();
        """
        )
        self.browser_js("/odoo", code, "odoo.isReady === true", login="admin", timeout=300)


@tagged("post_install", "-at_install", "rbm_tours")
class TestPortalCustomerTour(RbmDunningCase, HttpCase):
    """The customer's journey on the portal, clicked in the browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        family = cls.env["rbm.plan.family"].create({"name": "Mensais"})
        cls.plan.write({"self_service": True, "family_id": family.id})
        cls.plus = cls.env["rbm.plan"].create(
            {
                "name": "Mensal Plus",
                "self_service": True,
                "family_id": family.id,
                "line_ids": [
                    Command.create(
                        {"product_id": cls.product.id, "quantity": 1, "price_unit": 250.0}
                    )
                ],
            }
        )
        cls.portal_user = new_test_user(
            cls.env,
            login="maria_portal",
            groups="base.group_portal",
            partner_id=cls.customer.id,
            name="Maria José da Conceição",
        )
        cls.provider = (
            cls.env.ref("payment.payment_provider_demo")
            .sudo()
            .copy({"company_id": cls.env.company.id, "state": "test"})
        )
        cls.token = cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.env.ref("payment.payment_method_card").id,
                "partner_id": cls.customer.id,
                "payment_details": "4242",
                "provider_ref": "cartao-demo",
                "demo_simulated_state": "done",
            }
        )
        # billed two months ago, due on the 10th: overdue today
        start = fields.Date.today().replace(day=1) - relativedelta(months=2)
        cls.overdue = cls._bill_contract_at(start)

    @classmethod
    def _bill_contract_at(cls, start):
        contract = cls.env["rbm.contract"].create(
            {
                "partner_id": cls.customer.id,
                "plan_id": cls.plan.id,
                "date_start": start,
                "payment_mode": "boleto",
                "due_day": 10,
            }
        )
        contract.action_activate()
        cls.contract = contract
        return contract.env["rbm.billing.run"]._bill(contract, start)["moves"]

    def test_portal_customer(self):
        self.assertLess(self.overdue.invoice_date_due, fields.Date.today())
        self.start_tour("/my", "rbm_portal_customer_tour", login="maria_portal")
        self.assertEqual(self.contract.plan_id, self.plus)
        transaction = self.env["payment.transaction"].search(
            [("invoice_ids", "in", self.overdue.ids)]
        )
        self.assertEqual(transaction.token_id, self.token)
        self.assertEqual(transaction.state, "done")
        self.assertEqual(transaction.amount, 150.0)
        self.assertIn(self.overdue.payment_state, ("paid", "in_payment"))


@tagged("post_install", "-at_install", "rbm_tours")
class TestCollectionPolicyTimelineTour(RbmDunningCase, HttpCase):
    """The collection policy's timeline in the browser: its markers follow the
    steps list as steps are added and removed, before and after saving."""

    def test_timeline_follows_the_steps(self):
        policy = self.env["rbm.collection.policy"].create(
            {
                "name": "Régua Timeline",
                "step_ids": [
                    Command.create({"day_offset": -3, "action": "email"}),
                    Command.create({"day_offset": 3, "action": "email"}),
                    Command.create({"day_offset": 15, "action": "suspend"}),
                ],
            }
        )
        self.start_tour("/odoo", "rbm_collection_policy_timeline_tour", login=self.env.user.login)
        # the step added in the browser is saved, the removed one is gone
        self.assertEqual(
            [(step.day_offset, step.action) for step in policy.step_ids],
            [(-3, "email"), (7, "activity"), (15, "suspend")],
        )
