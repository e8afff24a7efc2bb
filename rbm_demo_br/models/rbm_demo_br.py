import base64
import logging
import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import Command, api, fields, models

from odoo.addons.rbm_dunning.engine import cnab, cnab150
from odoo.addons.rbm_dunning.engine.checkdigits import compact_document

_logger = logging.getLogger(__name__)

# IPCA-like monthly variations (%), by calendar month: any twelve consecutive
# months hold each once, so every anniversary gets the same accumulated
# variation, Π(1 + v/100) − 1 = 4.5598744%
IPCA_BY_MONTH = {
    1: 0.16,
    2: 0.83,
    3: 0.16,
    4: 0.38,
    5: 0.46,
    6: 0.21,
    7: 0.38,
    8: -0.02,
    9: 0.44,
    10: 0.56,
    11: 0.39,
    12: 0.52,
}

# The contracts: customer, plan, payment method, the day of their latest
# invoice ("anchor", days before today), days from an invoice to its due date
# ("lag"), months of history before the latest invoice (customers joined
# through the year), and how the customer pays: "pay" days from the due date
# (default: six to ten days before it), "late" maps an invoice, counted from
# the latest (-1), to its own delay in days, or None: unpaid.
CONTRACTS = [
    {
        "partner": "partner_padaria",
        "plan": "plan_profissional_mensal",
        "mode": "boleto",
        "anchor": 3,
        "lag": 12,
        "months": 7,
        "reference": "PADARIA-01",
    },
    {
        # late now: the collection calendar is at its SMS step
        "partner": "partner_maria",
        "plan": "plan_essencial_mensal",
        "mode": "boleto",
        "anchor": 16,
        "lag": 12,
        "months": 3,
        "late": {-1: None},
        "reference": "MARIA-01",
    },
    {
        # suspended for non-payment ten days after the due date
        "partner": "partner_oficina",
        "plan": "plan_profissional_mensal",
        "mode": "boleto",
        "anchor": 27,
        "lag": 12,
        "months": 2,
        "late": {-1: None},
        "reference": "OFICINA-01",
    },
    {
        # suspended four months ago, paid (with interest) at the bank, reactivated
        "partner": "partner_clinica",
        "plan": "plan_profissional_mensal",
        "mode": "boleto",
        "anchor": 6,
        "lag": 12,
        "months": 5,
        "late": {-5: 14},
        "reference": "CLINICA-01",
    },
    {
        "partner": "partner_pilates",
        "plan": "plan_profissional_mensal",
        "mode": "card",
        "anchor": 8,
        "lag": 10,
        "months": 4,
        "reference": "PILATES-01",
    },
    {
        "partner": "partner_ana",
        "plan": "plan_essencial_mensal",
        "mode": "card",
        "anchor": 15,
        "lag": 10,
        "months": 2,
        "reference": "ANA-01",
    },
    {
        # Pix, late now: the collection calendar is at its call step
        "partner": "partner_joao",
        "plan": "plan_essencial_mensal",
        "mode": "pix",
        "anchor": 18,
        "lag": 10,
        "months": 3,
        "pay": 0,
        "late": {-1: None},
        "reference": "JOAO-01",
    },
    {
        "partner": "partner_restaurante",
        "plan": "plan_profissional_mensal",
        "mode": "pix",
        "anchor": 12,
        "lag": 8,
        "months": 3,
        "pay": -1,
        "reference": "RESTAURANTE-01",
    },
    {
        "partner": "partner_escola",
        "plan": "plan_profissional_mensal",
        "mode": "direct_debit",
        "anchor": 4,
        "lag": 10,
        "months": 3,
        "reference": "ESCOLA-01",
    },
    {
        # metered: notes issued every working day, billed after each month
        "partner": "partner_transportes",
        "plan": "plan_fiscal_mensal",
        "mode": "boleto",
        "anchor": None,
        "lag": 10,
        "months": 4,
        "reference": "TRANSPORTES-01",
    },
    {
        "partner": "partner_hospital",
        "plan": "plan_empresarial_anual",
        "mode": "boleto",
        "anchor": 330,
        "lag": 15,
        "months": 0,
        "reference": "HOSPITAL-01",
    },
    {
        # the oldest customer: its price was adjusted by the IPCA on its anniversary
        "partner": "partner_construtora",
        "plan": "plan_profissional_mensal",
        "mode": "boleto",
        "anchor": 20,
        "lag": 10,
        "months": 12,
        "reference": "CONSTRUTORA-01",
    },
]

# the boleto returns are imported twice a week (Monday and Thursday), late
# payments at once
RETURN_WEEKDAYS = (0, 3)


def _first_of_next_month_after_28(day):
    """``day``, or the 1st of the next month for days 29 to 31."""
    if day.day > 28:
        return day.replace(day=1) + relativedelta(months=1)
    return day


class RbmDemoBr(models.AbstractModel):
    """Builds the Brazilian demo: a company in reais and a year of its
    billing and collection, replayed day by day through the product's own
    methods (billing run, boletos, CNAB returns, Pix, cards, direct debit,
    collection calendar, price adjustment)."""

    _name = "rbm.demo.br"
    _description = "Brazilian Demo Builder"

    # ------------------------------------------------------------
    # COMPANY
    # ------------------------------------------------------------

    @api.model
    def _activate_language(self):
        self.env["res.lang"]._activate_lang("pt_BR")

    @api.model
    def _setup_company(self, company_id):
        """Chart of accounts, bank journals and the admin user working in the
        company (São Paulo time)."""
        company = self.env["res.company"].browse(company_id)
        self.env["account.chart.template"]._load("generic_coa", company, install_demo=False)
        # the generic chart is in dollars: the books are kept in reais
        company.currency_id = self.env.ref("base.BRL")
        admin = self.env.ref("base.user_admin")
        admin.write(
            {
                "company_ids": [Command.link(company.id)],
                "company_id": company.id,
                "tz": "America/Sao_Paulo",
            }
        )
        # the team works in Portuguese, with Brazilian amounts and dates, when
        # it is loaded (docker compose loads it)
        if self.env["res.lang"]._lang_get("pt_BR"):
            admin.lang = "pt_BR"
        return True

    @api.model
    def _get_env(self, company):
        """The admin user's environment in the company only."""
        admin = self.env.ref("base.user_admin")
        return self.env(
            user=admin,
            context=dict(
                self.env.context,
                allowed_company_ids=[company.id],
                tz="America/Sao_Paulo",
                lang="pt_BR",
                mail_notify_force_send=False,
            ),
        )

    @api.model
    def _setup_banks(self, env, company):
        """Itaú (boletos, CNAB 240, Pix) and Banco do Brasil (direct debit)."""
        Account = env["account.account"]
        company_domain = Account._check_company_domain(company)
        income = Account.search(company_domain + [("account_type", "=", "income_other")], limit=1)
        income = income or Account.search(
            company_domain + [("account_type", "=", "income")], limit=1
        )
        expense = Account.search(company_domain + [("account_type", "=", "expense")], limit=1)
        Bank = env["res.bank"]
        itau_bank = Bank.create({"name": "Itaú Unibanco S.A.", "bic": "ITAUBRSP"})
        bb_bank = Bank.create({"name": "Banco do Brasil S.A.", "bic": "BRASBRRJ"})
        PartnerBank = env["res.partner.bank"]
        itau_account = PartnerBank.create(
            {
                "acc_number": "0810 53678-9",
                "bank_id": itau_bank.id,
                "partner_id": company.partner_id.id,
                "company_id": company.id,
            }
        )
        bb_account = PartnerBank.create(
            {
                "acc_number": "1234-3 12343-3",
                "bank_id": bb_bank.id,
                "partner_id": company.partner_id.id,
                "company_id": company.id,
            }
        )
        Journal = env["account.journal"]
        itau_journal = Journal.search(
            Journal._check_company_domain(company) + [("type", "=", "bank")], limit=1
        )
        itau_journal.bank_account_id = itau_account
        for lang in ("en_US", "pt_BR"):
            itau_journal.with_context(lang=lang).name = "Itaú"
        bb_journal = Journal.create(
            {
                "name": "Banco do Brasil",
                "code": "BB",
                "type": "bank",
                "company_id": company.id,
                "bank_account_id": bb_account.id,
            }
        )
        common = {
            "company_id": company.id,
            "interest_account_id": income.id,
            "fee_account_id": expense.id,
            "interest_rate": 1.0,
            "fine_rate": 2.0,
        }
        itau = env["rbm.collection.account"].create(
            {
                **common,
                "name": "Itaú — carteira 109",
                "sequence": 1,
                "bank_code": "341",
                "branch": "0810",
                "account_number": "53678",
                "account_digit": "9",
                "portfolio": "109",
                "partner_bank_id": itau_account.id,
                "journal_id": itau_journal.id,
                "pix_key": compact_document(company.vat),
                "protest_days": 30,
                "instructions": "Após o vencimento, cobrar multa de 2% e juros de 1% ao mês.",
            }
        )
        bb = env["rbm.collection.account"].create(
            {
                **common,
                "name": "Banco do Brasil — carteira 17",
                "sequence": 2,
                "bank_code": "001",
                "branch": "1234",
                "branch_digit": "3",
                "account_number": "12343",
                "account_digit": "3",
                "portfolio": "17",
                "agreement": "1234567",
                "layout": "cnab400",
                "partner_bank_id": bb_account.id,
                "journal_id": bb_journal.id,
                "pix_key": "financeiro@conecta.example.com.br",
                "debit_agreement": "0012345",
                "debit_horizon_days": 5,
            }
        )
        return itau, bb

    @api.model
    def _setup_card_provider(self, env, company, journal):
        """The demo payment provider of the company (saved cards)."""
        provider = (
            self.env.ref("payment.payment_provider_demo")
            .sudo()
            .copy({"company_id": company.id, "name": "Cartão (demonstração)"})
        )
        provider.write({"state": "test", "journal_id": journal.id})
        return provider

    @api.model
    def _setup_price_index(self, today):
        """IPCA values of the 26 months before today (months already
        imported from the Banco Central are kept)."""
        ipca = self.env.ref("rbm_recurring.rbm_price_index_ipca")
        known = set(ipca.value_ids.mapped("month"))
        first = today.replace(day=1) - relativedelta(months=26)
        vals_list = []
        for offset in range(26):
            month = first + relativedelta(months=offset)
            if month not in known:
                vals_list.append(
                    {"index_id": ipca.id, "month": month, "value": IPCA_BY_MONTH[month.month]}
                )
        self.env["rbm.price.index.value"].create(vals_list)

    # ------------------------------------------------------------
    # HISTORY
    # ------------------------------------------------------------

    @api.model
    def _build_history(self, company_id):
        """Twelve months of the company's billing and collection, replayed
        day by day up to today with the product's own methods."""
        company = self.env["res.company"].browse(company_id)
        today = fields.Date.context_today(self.with_context(tz="America/Sao_Paulo"))
        self._setup_price_index(today)
        env = self._get_env(company)
        itau, bb = self._setup_banks(env, company)
        provider = self._setup_card_provider(env, company, itau.journal_id)
        specs = self._prepare_contract_specs(env, today)
        first_day = min(spec["date_start"] for spec in specs)
        state = {
            "itau": itau,
            "bb": bb,
            "provider": provider,
            "rng": random.Random(2026),
            "payments": {},  # day: [(kind, invoice, days late)]
            "paid_boletos": [],  # [(boleto, day paid, days late)] for the next return
            "debit_due": [],  # due dates of the debits to ask the bank for
            "cnab_nsa": 1,
            "debit_nsa": 1,
        }
        noon = time(15)  # noon in São Paulo
        with freeze_time(datetime.combine(first_day, noon)) as frozen:
            day = first_day
            while day <= today:
                frozen.move_to(datetime.combine(day, noon))
                self._replay_day(env, company, day, specs, state)
                day += timedelta(days=1)
        env.flush_all()
        _logger.info("Brazilian demo: history from %s to %s built", first_day, today)
        return True

    @api.model
    def _prepare_contract_specs(self, env, today):
        specs = []
        for spec in CONTRACTS:
            spec = dict(spec)
            spec["partner"] = self.env.ref(f"rbm_demo_br.{spec['partner']}")
            spec["plan"] = self.env.ref(f"rbm_demo_br.{spec['plan']}")
            if spec["anchor"] is None:
                # fixed billing day 1: started in the middle of a month
                first = today.replace(day=1) - relativedelta(months=spec["months"])
                spec["date_start"] = first + timedelta(days=14)
                spec["due_day"] = 1 + spec["lag"]
            else:
                # days 29 to 31 move to the 1st: the same day every month
                anchor = _first_of_next_month_after_28(today - timedelta(days=spec["anchor"]))
                due = _first_of_next_month_after_28(anchor + timedelta(days=spec["lag"]))
                spec["date_start"] = anchor - relativedelta(months=spec["months"])
                spec["anchor_date"] = anchor
                spec["due_day"] = due.day
            specs.append(spec)
        return specs

    @api.model
    def _replay_day(self, env, company, day, specs, state):
        """One day of the company: new contracts, price adjustments, usage,
        the billing run, card charges, remittances to the banks, payments
        received, and the collection calendar."""
        Contract = env["rbm.contract"]
        for spec in specs:
            if spec["date_start"] == day:
                spec["contract"] = self._start_contract(env, spec, state)
        contracts = Contract.browse([s["contract"].id for s in specs if s.get("contract")])
        if not contracts:
            return
        # price adjustment on the anniversary (its notice before), then billing
        for contract in contracts.filtered(
            lambda c: c.adjustment_action_date and c.adjustment_action_date <= day
        ):
            contract._process_price_adjustment(day)
        self._ingest_usage(env, company, day, specs, state)
        due = contracts.filtered(lambda c: c.next_invoice_date and c.next_invoice_date <= day)
        moves = due.env["rbm.billing.run"]._bill(
            due.env["rbm.billing.run"]._lock(due, wait=True), day
        )["moves"]
        moves = moves.filtered(lambda m: m.state == "posted")
        for move in moves:
            self._schedule_payment(move, specs, state)
        # cards are charged once the invoice is posted (the card run)
        card_moves = moves.filtered("rbm_card_charge_due")
        if card_moves:
            card_moves._rbm_charge_card("post")
        # new boletos registered at the bank, debits asked for
        if moves.rbm_boleto_ids:
            env["rbm.cnab.file"]._generate_remittance(state["itau"])
        horizon = day + timedelta(days=state["bb"].debit_horizon_days)
        if any(due_date <= horizon for due_date in state["debit_due"]):
            env["rbm.debit.file"]._generate_remittance(state["bb"])
            state["debit_due"] = [d for d in state["debit_due"] if d > horizon]
        late_payment = self._receive_payments(env, day, state)
        # the collection calendar, on the days it has something to do
        if late_payment or self._has_installments_to_collect(env, company, day):
            env["rbm.collection.run"]._run_all(day)

    @api.model
    def _has_installments_to_collect(self, env, company, day):
        """Whether an open installment is due within three days (the first
        step of the calendar) or overdue."""
        return bool(
            env["account.move.line"].search_count(
                [
                    ("company_id", "=", company.id),
                    ("parent_state", "=", "posted"),
                    ("move_id.move_type", "=", "out_invoice"),
                    ("display_type", "=", "payment_term"),
                    ("reconciled", "=", False),
                    ("date_maturity", "<=", day + timedelta(days=3)),
                ],
                limit=1,
            )
        )

    @api.model
    def _start_contract(self, env, spec, state):
        partner = spec["partner"]
        vals = {
            "partner_id": partner.id,
            "plan_id": spec["plan"].id,
            "company_id": spec["plan"].company_id.id,
            "date_start": spec["date_start"],
            "payment_mode": spec["mode"],
            "due_day": spec["due_day"],
            "reference": spec["reference"],
            "user_id": env.uid,
        }
        if spec["mode"] == "card":
            token = (
                env["payment.token"]
                .sudo()
                .create(
                    {
                        "provider_id": state["provider"].id,
                        "payment_method_id": self.env.ref("payment_demo.payment_method_demo").id,
                        "partner_id": partner.id,
                        "payment_details": "4242",
                        "provider_ref": f"demo-br-{partner.id}",
                        "demo_simulated_state": "done",
                    }
                )
            )
            vals["payment_token_id"] = token.id
        if spec["mode"] == "direct_debit":
            mandate = env["rbm.debit.mandate"].create(
                {
                    "partner_id": partner.id,
                    "collection_account_id": state["bb"].id,
                    "branch": "3456",
                    "account_number": "0012345X",
                }
            )
            mandate.action_activate()
            vals["rbm_debit_mandate_id"] = mandate.id
        contract = env["rbm.contract"].create(vals)
        contract.action_activate()
        return contract

    @api.model
    def _ingest_usage(self, env, company, day, specs, state):
        """Notes issued by the metered customer: 12 to 24 a working day, 4 on
        Saturdays."""
        for spec in specs:
            contract = spec.get("contract")
            if not contract or spec["plan"] != self.env.ref("rbm_demo_br.plan_fiscal_mensal"):
                continue
            if day.weekday() == 6:
                continue
            quantity = state["rng"].randint(12, 24) if day.weekday() < 5 else 4
            env["rbm.usage"]._ingest(
                company,
                [
                    {
                        "idempotency_key": f"demo-br-{contract.reference}-{day.isoformat()}",
                        "metric": "notas_fiscais",
                        "contract_id": contract.id,
                        "quantity": quantity,
                        "timestamp": datetime.combine(day, time(13)).isoformat(),
                        "properties": {"serie": "1"},
                    }
                ],
                source="api",
            )

    # ------------------------------------------------------------
    # PAYMENTS
    # ------------------------------------------------------------

    @api.model
    def _schedule_payment(self, move, specs, state):
        """Decide when the customer pays a new invoice by boleto or Pix: a few
        days before its due date, unless the contract's "late" says otherwise
        for this invoice (counted from the latest, -1)."""
        spec = next(s for s in specs if s.get("contract") == move.rbm_contract_id)
        if spec["mode"] == "direct_debit":
            state["debit_due"].append(move.invoice_date_due)
        if spec["mode"] not in ("boleto", "pix"):
            return  # charged by the card run, debited by the bank
        delay = spec.get("pay")
        if delay is None:
            delay = -state["rng"].randint(6, 10)
        late = spec.get("late") or {}
        if late and spec.get("anchor_date"):
            gap = relativedelta(spec["anchor_date"], move.invoice_date)
            index = -(gap.years * 12 + gap.months + 1)
            if index in late:
                delay = late[index]
                if delay is None:
                    return  # still unpaid
        day = max(move.invoice_date_due + timedelta(days=delay), move.invoice_date + timedelta(1))
        state["payments"].setdefault(day, []).append((spec["mode"], move, max(delay, 0)))

    @api.model
    def _receive_payments(self, env, day, state):
        """Boletos paid on ``day`` come in the bank's next return (imported
        twice a week, at once when paid late), Pix received on the bank
        statement, debits in the debit return. Returns whether a payment was
        late."""
        late = False
        for kind, move, days_late in state["payments"].pop(day, []):
            if move.payment_state in ("paid", "in_payment") or move.state != "posted":
                continue
            late = late or days_late > 0
            if kind == "boleto":
                boleto = move.rbm_boleto_ids.filtered(
                    lambda b: b.state in ("draft", "in_remessa", "registered")
                )
                if boleto:
                    state["paid_boletos"].append((boleto[:1], day, days_late))
            else:
                # the bank feed (the admin user has no full accounting rights)
                env["account.bank.statement.line"].sudo().create(
                    {
                        "journal_id": state["itau"].journal_id.id,
                        "date": day,
                        "payment_ref": (
                            f"PIX RECEBIDO - {move.partner_id.name.upper()} - "
                            f"TXID {move.rbm_pix_txid}"
                        ),
                        "amount": move.amount_residual,
                    }
                )
        if state["paid_boletos"] and (late or day.weekday() in RETURN_WEEKDAYS):
            self._import_cnab_return(env, day, state["paid_boletos"], state)
            state["paid_boletos"] = []
        self._import_debit_return(env, day, state)
        return late

    @api.model
    def _import_cnab_return(self, env, day, boletos, state):
        """The Itaú return (CNAB 240) of the boletos paid on ``day``, imported
        through the return import wizard."""
        account = state["itau"]
        details = []
        for boleto, paid_on, days_late in boletos:
            amount = Decimal(str(boleto.amount))
            interest_fine = Decimal(0)
            if days_late > 0:
                fine = (amount * Decimal(str(account.fine_rate)) / 100).quantize(Decimal("0.01"))
                interest = (
                    amount * Decimal(str(account.interest_rate)) / 100 / 30 * days_late
                ).quantize(Decimal("0.01"))
                interest_fine = fine + interest
            details.append(
                {
                    "boleto": boleto,
                    "amount_paid": amount + interest_fine,
                    "interest_fine": interest_fine,
                    "fee": Decimal(0),
                    "credit_date": paid_on,
                }
            )
        content = self._render_cnab_return(account, details, day, state["cnab_nsa"])
        state["cnab_nsa"] += 1
        wizard = env["rbm.cnab.import.wizard"].create(
            {
                "collection_account_id": account.id,
                "data": base64.b64encode(content),
                "filename": f"RET341_{day:%Y%m%d}.ret",
            }
        )
        wizard.action_preview()
        wizard.action_import()

    @api.model
    def _render_cnab_return(self, account, details, day, nsa):
        """A CNAB 240 return of ``account`` settling ``details`` (occurrence
        06, liquidação), written with the engine's return layout."""
        layout = cnab.cnab240_layout(account.bank_code, "return")
        common = {
            "batch": 1,
            "company_document_type": "2",
            "company_document": compact_document(account.company_id.vat),
            "branch": account.branch,
            "account": account.account_number,
        }

        def write(record, values):
            return record.to_line({k: v for k, v in values.items() if k in record.names})

        lines = [
            write(
                layout["file_header"],
                {**common, "file_type": "2", "generated_on": day, "file_sequence": nsa},
            ),
            write(layout["batch_header"], {**common, "operation": "T"}),
        ]
        sequence = 0
        for detail in details:
            boleto = detail["boleto"]
            paid = detail["amount_paid"]
            sequence += 1
            lines.append(
                write(
                    layout["T"],
                    {
                        **common,
                        "sequence": sequence,
                        "occurrence": "06",
                        "portfolio": account.portfolio,
                        "our_number": f"{boleto.our_number_sequence:08d}",
                        "our_number_digit": boleto.our_number[-1],
                        "due_date": boleto.due_date,
                        "amount": Decimal(str(boleto.amount)),
                        "fee": detail["fee"],
                        "rejection_reasons": "",
                    },
                )
            )
            sequence += 1
            lines.append(
                write(
                    layout["U"],
                    {
                        **common,
                        "sequence": sequence,
                        "occurrence": "06",
                        "amount_paid": paid,
                        "net_amount": paid - detail["fee"],
                        "interest_fine": detail["interest_fine"],
                        "occurrence_date": detail["credit_date"],
                        "credit_date": detail["credit_date"],
                    },
                )
            )
        lines.append(write(layout["batch_trailer"], {**common, "record_count": sequence + 2}))
        lines.append(
            layout["file_trailer"].to_line({"batch_count": 1, "record_count": len(lines) + 1})
        )
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")

    @api.model
    def _import_debit_return(self, env, day, state):
        """The Banco do Brasil direct debit return (CNAB 150) of the debits
        due on ``day``: every one debited (code 00)."""
        account = state["bb"]
        debits = env["rbm.debit"].search(
            [
                ("mandate_id.collection_account_id", "=", account.id),
                ("state", "=", "sent"),
                ("due_date", "<=", day),
            ]
        )
        if not debits:
            return
        records = cnab150.RECORDS
        out = [
            records["A"].to_line(
                {
                    "file_type": "2",
                    "agreement": account.debit_agreement,
                    "company_name": account.company_id.name.upper()[:20],
                    "bank": account.bank_code,
                    "bank_name": "BANCO DO BRASIL",
                    "generated_on": day,
                    "file_sequence": state["debit_nsa"],
                }
            )
        ]
        state["debit_nsa"] += 1
        total = Decimal(0)
        for debit in debits:
            amount = Decimal(str(debit.amount))
            total += amount
            out.append(
                records["F"].to_line(
                    {
                        "movement": "0",
                        "customer_id": debit.mandate_id.identifier,
                        "branch": debit.mandate_id.branch,
                        "account_id": debit.mandate_id.account_number,
                        "debit_date": day,
                        "amount": amount,
                        "return_code": "00",
                        "company_use": debit._company_use(),
                    }
                )
            )
        out.append(records["Z"].to_line({"record_count": len(out) + 1, "total": total}))
        content = ("\r\n".join(out) + "\r\n").encode("latin-1")
        wizard = env["rbm.debit.import.wizard"].create(
            {
                "collection_account_id": account.id,
                "data": base64.b64encode(content),
                "filename": f"DEB001_{day:%Y%m%d}.ret",
            }
        )
        wizard.action_preview()
        wizard.action_import()
