import base64
from datetime import timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.rbm_dunning.engine.checkdigits import (
    cnpj_check_digits,
    cpf_check_digits,
    is_valid_cnpj,
    is_valid_cpf,
)

# invoices per contract: one per month of history plus the latest (the annual
# plan: one; the metered plan, billed after each month: one per month)
INVOICES = {
    "PADARIA-01": 8,
    "MARIA-01": 4,
    "OFICINA-01": 3,
    "CLINICA-01": 6,
    "PILATES-01": 5,
    "ANA-01": 3,
    "JOAO-01": 4,
    "RESTAURANTE-01": 4,
    "ESCOLA-01": 4,
    "TRANSPORTES-01": 4,
    "HOSPITAL-01": 1,
    "CONSTRUTORA-01": 13,
}


class DemoBrCase(TransactionCase):
    """The Brazilian demo as a visitor finds it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("rbm_demo_br.company_br")
        cls.env = cls.env(
            context=dict(cls.env.context, allowed_company_ids=[cls.company.id], lang="en_US")
        )
        cls.today = fields.Date.context_today(
            cls.env["res.users"].with_context(tz="America/Sao_Paulo")
        )
        cls.contracts = cls.env["rbm.contract"].search([("company_id", "=", cls.company.id)])

    def _contract(self, reference):
        contract = self.contracts.filtered(lambda c: c.reference == reference)
        self.assertEqual(len(contract), 1, reference)
        return contract

    def _invoices(self, contracts):
        return self.env["account.move"].search(
            [
                ("rbm_contract_id", "in", contracts.ids),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
            ],
            order="invoice_date, id",
        )


@tagged("post_install", "-at_install")
class TestDemoBrCompany(DemoBrCase):
    def test_company_in_reais_with_a_valid_cnpj(self):
        company = self.company
        self.assertEqual(company.currency_id.name, "BRL")
        self.assertEqual(company.vat, "34.567.891/0001-84")
        # 3456789100 01: check digits 8 and 4 (modulo 11, weights 5..2 9..2 and 6..2 9..2)
        self.assertEqual(cnpj_check_digits("345678910001"), "84")
        self.assertTrue(is_valid_cnpj(company.vat))
        self.assertFalse(is_valid_cnpj("34.567.891/0001-85"))
        self.assertEqual(
            (company.country_id.code, company.state_id.code, company.city, company.zip),
            ("BR", "SP", "São Paulo", "01310-200"),
        )
        self.assertEqual(company.partner_id.lang, "pt_BR")
        self.assertEqual(company.partner_id.tz, "America/Sao_Paulo")
        self.assertTrue(self.env["res.lang"]._lang_get("pt_BR"))
        # invoices and payments have accounts: a chart of accounts in reais
        self.assertTrue(company.chart_template)
        self.assertTrue(self.env["account.journal"].search([("company_id", "=", company.id)]))

    def test_admin_works_in_the_company(self):
        admin = self.env.ref("base.user_admin")
        self.assertEqual(admin.company_id, self.company)
        self.assertIn(self.company, admin.company_ids)
        self.assertEqual(admin.tz, "America/Sao_Paulo")

    def test_customers_are_brazilian(self):
        customers = self.contracts.partner_id
        self.assertEqual(len(customers), 12)
        people = customers.filtered(lambda p: not p.is_company)
        self.assertEqual(
            sorted(people.mapped("name")),
            ["Ana Beatriz Lima", "João Pedro Almeida", "Maria Aparecida Souza"],
        )
        # Maria's CPF: 234.567.891 → check digits 7 and 3
        self.assertEqual(cpf_check_digits("234567891"), "73")
        for partner in people:
            self.assertTrue(is_valid_cpf(partner.vat), partner.name)
        for partner in customers - people:
            self.assertTrue(is_valid_cnpj(partner.vat), partner.name)
        for partner in customers:
            self.assertEqual(partner.country_id.code, "BR", partner.name)
            self.assertTrue(partner.state_id and partner.city and partner.street, partner.name)
            self.assertRegex(partner.zip, r"^\d{5}-\d{3}$", partner.name)
            self.assertEqual(partner.lang, "pt_BR", partner.name)
        # portal users among them
        maria = self.env.ref("rbm_demo_br.user_portal_maria")
        self.assertEqual(maria.login, "maria")
        self.assertTrue(maria._is_portal())
        self.assertEqual(maria.partner_id, self._contract("MARIA-01").partner_id)

    def test_collection_accounts_of_two_banks(self):
        accounts = self.env["rbm.collection.account"].search(
            [("company_id", "=", self.company.id)], order="sequence"
        )
        self.assertEqual(accounts.mapped("bank_code"), ["341", "001"])
        self.assertEqual(
            accounts.mapped("pix_key"), ["34567891000184", "financeiro@conecta.example.com.br"]
        )
        self.assertEqual(accounts[1].debit_agreement, "0012345")
        for account in accounts:
            account._validate_settings()  # the bank's own rules, else ValidationError
            self.assertEqual(account.journal_id.company_id, self.company)


@tagged("post_install", "-at_install")
class TestDemoBrHistory(DemoBrCase):
    def test_a_contract_per_payment_method(self):
        modes = {
            mode: self.contracts.filtered(lambda c, m=mode: c.payment_mode == m)
            for mode in ("boleto", "pix", "card", "direct_debit")
        }
        self.assertEqual(
            {m: len(c) for m, c in modes.items()},
            {"boleto": 7, "pix": 2, "card": 2, "direct_debit": 1},
        )
        for contract in modes["card"]:
            self.assertEqual(contract.payment_token_id.provider_id.code, "demo")
            self.assertEqual(contract.payment_token_id.company_id, self.company)
        debit = modes["direct_debit"]
        self.assertEqual(debit.rbm_debit_mandate_id.state, "active")
        self.assertEqual(debit.rbm_debit_mandate_id.collection_account_id.bank_code, "001")
        # each way of paying has paid invoices, through its own channel
        card_paid = self._invoices(modes["card"]).filtered(lambda m: m.payment_state == "paid")
        self.assertEqual(len(card_paid), 5 + 3)
        self.assertEqual(set(card_paid.transaction_ids.mapped("state")), {"done"})
        pix_paid = self._invoices(modes["pix"]).filtered(lambda m: m.payment_state == "paid")
        self.assertEqual(len(pix_paid), 3 + 4)
        lines = self.env["account.bank.statement.line"].search(
            [("company_id", "=", self.company.id), ("rbm_pix_move_id", "in", pix_paid.ids)]
        )
        self.assertEqual(len(lines), 7)
        self.assertTrue(all(lines.mapped("is_reconciled")))
        debit_invoices = self._invoices(debit)
        debited = self.env["rbm.debit"].search(
            [("move_id", "in", debit_invoices.ids), ("state", "=", "paid")]
        )
        self.assertEqual(len(debited), 3, "every debit due so far came back debited")
        self.assertEqual(
            debit_invoices.filtered(lambda m: m.payment_state == "paid"), debited.move_id
        )

    def test_invoices_spread_over_twelve_months(self):
        invoices = self._invoices(self.contracts)
        per_contract = {c.reference: len(self._invoices(c)) for c in self.contracts}
        self.assertEqual(per_contract, INVOICES)
        self.assertEqual(len(invoices), 59)
        # billed by the billing run: one invoice per contract and period
        self.assertTrue(all(invoices.mapped("rbm_period_start")))
        months = {(m.invoice_date.year, m.invoice_date.month) for m in invoices}
        first_of_month = self.today.replace(day=1)
        for back in range(1, 13):
            month = first_of_month - relativedelta(months=back)
            self.assertIn((month.year, month.month), months, f"no invoice in {month:%m/%Y}")
        self.assertEqual(set(invoices.currency_id.mapped("name")), {"BRL"})
        # the plans' prices, to the cent
        padaria = self._invoices(self._contract("PADARIA-01"))
        self.assertEqual(set(padaria.mapped("amount_total")), {249.90})
        self.assertEqual(self._invoices(self._contract("HOSPITAL-01")).amount_total, 9588.00)

    def test_boleto_paid_through_an_imported_cnab_return(self):
        padaria = self._invoices(self._contract("PADARIA-01"))
        # all but the latest are due: each paid at the bank before its due date
        paid = padaria.filtered(lambda m: m.invoice_date_due < self.today)
        self.assertEqual(len(paid), 7)
        self.assertEqual(set(paid.mapped("payment_state")), {"paid"})
        for invoice in paid:
            boleto = invoice.rbm_boleto_ids
            self.assertEqual(len(boleto), 1)
            self.assertEqual(boleto.state, "paid")
            self.assertEqual(boleto.collection_account_id.bank_code, "341")
            occurrence = boleto.occurrence_ids.filtered(
                lambda o: o.direction == "return" and o.kind == "paid"
            )
            self.assertEqual(len(occurrence), 1)
            self.assertEqual(occurrence.payment_id, boleto.payment_id)
            self.assertEqual(occurrence.file_id.collection_account_id, boleto.collection_account_id)
            self.assertEqual(boleto.payment_id.amount, 249.90)
            self.assertLess(boleto.paid_date, invoice.invoice_date_due)
        # the one paid 14 days late came with the bank's interest and fine:
        # multa 2% × 249.90 = 5.00 (4.998); juros 1% a month × 14/30 × 249.90 = 1.17 (1.1662)
        clinica = self._invoices(self._contract("CLINICA-01"))
        late = clinica.rbm_boleto_ids.filtered(lambda b: b.paid_date and b.paid_date > b.due_date)
        self.assertEqual(len(late), 1)
        self.assertEqual(late.paid_date, late.due_date + timedelta(days=14))
        self.assertEqual(late.payment_id.amount, 256.07)
        fee = self.env["rbm.late.fee"].search([("move_id", "=", late.move_id.id)])
        self.assertEqual((fee.state, fee.amount), ("collected", 6.17))

    def test_customer_with_an_alphanumeric_cnpj_billed_by_boleto(self):
        # the Oficina opened after July 2026: its CNPJ has letters (IN RFB
        # 2.229/2024); check digits worked out by hand from 5RK92T170001:
        # 25+136+81+18+18+288+7+42+0+0+0+2 = 617 = 11*56 + 1 -> 0;
        # 30+170+108+27+4+324+8+49+0+0+0+3+0 = 723 = 11*65 + 8 -> 3
        oficina = self._contract("OFICINA-01")
        self.assertEqual(oficina.partner_id.vat, "5R.K92.T17/0001-03")
        boletos = self._invoices(oficina).rbm_boleto_ids
        # two months of history before the latest invoice: three boletos
        self.assertEqual(len(boletos), 3)
        for boleto in boletos:
            remittance = boleto.occurrence_ids.filtered(
                lambda o: o.direction == "remittance"
            ).file_id
            self.assertEqual(len(remittance), 1)
            lines = base64.b64decode(remittance.datas).decode("latin-1").split("\r\n")
            # segment Q: 18 type 2 (CNPJ), 19-33 inscription right-aligned with a zero
            documents = {line[17:33] for line in lines if line[7:8] == "3" and line[13:14] == "Q"}
            self.assertIn("2" + "05RK92T17000103", documents)
        # the older two came back paid in the bank's returns, the latest is open
        paid = boletos.filtered(lambda b: b.state == "paid")
        self.assertEqual(len(paid), 2)
        self.assertEqual(set(paid.move_id.mapped("payment_state")), {"paid"})

    def test_suspended_and_reactivated_contracts(self):
        oficina = self._contract("OFICINA-01")
        self.assertEqual(oficina.state, "suspended")
        self.assertTrue(oficina.rbm_suspended_by_collection)
        unpaid = self._invoices(oficina).filtered(lambda m: m.payment_state == "not_paid")
        self.assertEqual(len(unpaid), 1)
        self.assertEqual(oficina.suspended_since, unpaid.invoice_date_due + timedelta(days=10))
        clinica = self._contract("CLINICA-01")
        self.assertEqual(clinica.state, "active")
        events = self.env["rbm.mrr.event"].search(
            [("contract_id", "=", clinica.id)], order="date, id"
        )
        self.assertEqual(
            [(e.event_type, e.reason) for e in events],
            [("new", "start"), ("churn", "suspension"), ("reactivation", "reactivation")],
        )
        late = self._invoices(clinica).rbm_boleto_ids.filtered(
            lambda b: b.paid_date and b.paid_date > b.due_date
        )
        self.assertEqual(events[1].date, late.due_date + timedelta(days=10))
        self.assertEqual(events[2].date, late.paid_date)
        self.assertEqual((events[1].delta, events[2].delta), (-249.90, 249.90))

    def test_collection_logs_at_several_steps(self):
        logs = self.env["rbm.collection.log"].search(
            [("company_id", "=", self.company.id), ("state", "=", "done")]
        )
        self.assertEqual(
            set(logs.mapped("step_id.day_offset")) - {-3},
            {1, 3, 7, 10},
        )
        # the late payers now: each at the steps its days overdue reached
        policy = self.env.ref("rbm_demo_br.collection_policy_br")
        for reference in ("MARIA-01", "OFICINA-01", "JOAO-01"):
            contract = self._contract(reference)
            invoice = self._invoices(contract).filtered(lambda m: m.payment_state == "not_paid")
            self.assertEqual(len(invoice), 1, reference)
            overdue = (self.today - invoice.invoice_date_due).days
            self.assertGreater(overdue, 0, reference)
            expected = {
                step.day_offset
                for step in policy.step_ids
                if step.day_offset <= overdue
                and step.payment_mode in (False, contract.payment_mode)
                and not (step.action == "protest" and invoice.amount_residual < 100)
            }
            done = logs.filtered(lambda log, inv=invoice: log.move_id == inv)
            self.assertEqual(set(done.mapped("step_id.day_offset")), expected, reference)
        self.assertEqual(self._contract("OFICINA-01").state, "suspended")
        # the collector's calls are scheduled
        self.assertTrue(logs.filtered(lambda log: log.action == "activity").move_id.activity_ids)

    def test_usage_statements(self):
        contract = self._contract("TRANSPORTES-01")
        invoices = self._invoices(contract)
        for invoice in invoices:
            statement = contract._get_usage_statement(invoice.rbm_period_start)
            self.assertEqual(statement["invoice"], invoice)
            (metric,) = statement["metrics"]
            usage = self.env["rbm.usage"].search(
                [("contract_id", "=", contract.id), ("invoice_line_id.move_id", "=", invoice.id)]
            )
            quantity = Decimal(str(sum(usage.mapped("quantity"))))
            self.assertEqual(metric["quantity"], quantity)
            # 300 notes included, R$ 0,25 per note beyond
            expected = max(quantity - 300, 0) * Decimal("0.25")
            self.assertEqual(statement["total"], expected)
            usage_line = invoice.invoice_line_ids.filtered(
                lambda line: line.product_id.name == "Notas fiscais excedentes"
            )
            self.assertEqual(Decimal(str(usage_line.price_subtotal)), expected)
        # full months went past the allowance
        self.assertTrue(
            any(
                line.price_subtotal > 0
                for line in invoices.invoice_line_ids.filtered(
                    lambda line: line.product_id.name == "Notas fiscais excedentes"
                )
            )
        )
        # the current month is open
        self.assertTrue(contract._get_usage_statement(self.today)["is_open"])

    def test_price_adjustment_applied(self):
        contract = self._contract("CONSTRUTORA-01")
        adjustment = contract.adjustment_ids.filtered(lambda a: a.state == "applied")
        self.assertEqual(len(adjustment), 1)
        self.assertEqual(adjustment.anniversary, contract.date_start + relativedelta(years=1))
        # Π(1 + v/100) − 1 over the demo's twelve IPCA months = 0.045598743...
        self.assertAlmostEqual(adjustment.factor, 0.04559874, places=8)
        # 249.90 × 1.045598743 = 261.2951 → 261.30
        self.assertEqual(
            [(line.old_price, line.new_price) for line in adjustment.line_ids], [(249.90, 261.30)]
        )
        self.assertEqual(contract.line_ids.price_unit, 261.30)
        invoices = self._invoices(contract)
        after = invoices.filtered(lambda m: m.invoice_date >= adjustment.anniversary)
        self.assertEqual(len(after), 1)
        self.assertEqual(after.amount_total, 261.30)
        self.assertEqual(set((invoices - after).mapped("amount_total")), {249.90})
        event = self.env["rbm.mrr.event"].search(
            [("contract_id", "=", contract.id), ("reason", "=", "adjustment")]
        )
        self.assertEqual(
            (event.event_type, event.delta, event.mrr_after), ("expansion", 11.40, 261.30)
        )


@tagged("post_install", "-at_install")
class TestDemoBrPortal(HttpCase):
    def test_portal_user_sees_her_subscription(self):
        contract = self.env["rbm.contract"].search([("reference", "=", "MARIA-01")])
        self.authenticate("maria", "maria1234")
        response = self.url_open("/my/subscriptions")
        self.assertEqual(response.status_code, 200)
        self.assertIn(contract.name, response.text)
        response = self.url_open(f"/my/subscriptions/{contract.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Essencial Mensal", response.text)
        # another customer's contract stays hidden
        other = self.env["rbm.contract"].search([("reference", "=", "PADARIA-01")])
        self.assertNotIn(other.name, self.url_open("/my/subscriptions").text)
