#!/usr/bin/env python3
"""CNAB return (retorno) benchmark: a 10,000-line return file imported and
reconciled by RBM, and plain Odoo registering and reconciling the same
payments with ``account.payment.register``, in the same run.

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/cnab.py              # 10,000 lines
    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/cnab.py --lines 1000 --profile

1. Database ``--db`` (default ``rbm_bench_cnab``, a throwaway database): created
   with ``-i rbm_dunning --without-demo=all`` when missing. Its company is made
   Brazilian (BRL, a CNPJ) and gets an Itaú collection account (CNAB 240, 1% a
   month interest, 2% fine). Once, with the ORM, and committed in batches of 500
   (reused by the next runs; an interrupted setup resumes): customers with a
   valid CPF and an address; ``--lines`` + ``--warmup`` posted invoices for RBM
   and ``--plain-sample`` + ``--warmup`` for plain Odoo, invoice *i* of both
   sides for customer *i* with the same amount (1 line, no tax, 100.00 to
   255.83). RBM side: the invoices have the collection account, so posting
   issues their boletos, and a remittance (``_generate_remittance``) sends them
   to the bank (``in_remessa``). Plain side: no boletos.
2. Untimed: the return file of the RBM boletos is written with the engine's
   CNAB 240 return layout (segments T + U, like the bank's): every line a
   settlement (occurrence 06) credited two days ago, with a bank fee of 1.50
   (tarifa); every 5th line paid late, with 2% fine + interest received; every
   7th line of the rest paid with a 1.00 discount granted. ``ANALYZE``.
3. Timed, in one transaction rolled back at the end (``--order``):

   - **RBM**: ``rbm.cnab.file._import_return(account, content, filename)``, the
     code path of the import wizard's *Import* button: every line logged, one
     payment per paid line (interest as a write-off line), reconciled with the
     boleto's installment, one fee entry for the file, boleto states updated.
   - **Plain Odoo** (``--plain-modes``), on the first ``--plain-sample``
     (1,000) lines' terms, its rate being the sample's (the register wizard
     runs at a few payments a second: 10,000 would take an hour), undone with a
     savepoint after each mode:

     * ``accountant`` (default): ``account.payment.register`` as an accountant
       does it with the bank statement in hand: the invoices paid at face value
       in wizards of ``--batch-size`` (500) invoices (``group_payment`` off: one
       payment per invoice, batched create, post and reconcile by the wizard);
       the invoices paid with interest or with a discount one wizard each (the
       wizard edits the amount and the write-off account for a single invoice
       only), amount = amount received, difference written off to the interest
       (discount) account; and one journal entry for the bank fees of the file,
       as RBM books them. The same work as RBM.
     * ``fastest``: every invoice in wizards of ``--batch-size`` at face value
       (no interest or discount booked: less work than the return asks), and
       the fee entry: the fastest the wizard goes.

   Each side starts with a cold ORM cache (``invalidate_all``) and ends with
   ``flush_all``; a warm-up of ``--warmup`` lines per side runs first
   (untimed). Wall time with ``perf_counter``, queries with the cursor's
   ``sql_log_count``. Checks: every invoice paid, the amounts received equal to
   the return's (face value for ``fastest``), every RBM boleto paid. The ratio
   is RBM lines/s over the fastest plain mode measured.

The last line is the summary, e.g.::

    cnab: 10000 lines, 812 lines/s, ratio 0.91 vs plain Odoo, 14.2 queries/line
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402 - what the benchmarks share (bench/common.py)

PREFIX = "BENCH-CNAB"
COMPANY_CNPJ = "16727230000197"
ITAU = {"bank_code": "341", "branch": "0810", "account_number": "53678", "portfolio": "109"}
FEE = Decimal("1.50")
DISCOUNT = Decimal("1.00")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench_cnab", help="throwaway database")
    parser.add_argument("--lines", "-n", type=int, default=10000, help="return lines (10,000)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up lines per side (50)")
    parser.add_argument(
        "--batch-size", type=int, default=500, help="invoices per plain register wizard (500)"
    )
    parser.add_argument(
        "--order", choices=("rbm-first", "plain-first"), default="rbm-first", help="side order"
    )
    parser.add_argument(
        "--plain-sample",
        type=int,
        default=1000,
        help="invoices paid by the plain side (1,000; its rate is the sample's)",
    )
    parser.add_argument(
        "--plain-modes",
        default="accountant",
        help="comma-separated plain sides: accountant (default), fastest (see above)",
    )
    parser.add_argument("--profile", action="store_true", help="query breakdown of the RBM side")
    parser.add_argument("--profile-top", type=int, default=15)
    common.add_odoo_arguments(parser)
    return parser.parse_args()


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------


def cpf(number):
    """A valid CPF (11 digits) made of ``number``."""
    digits = [int(c) for c in f"{number % 10**9:09d}"]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def invoice_amount(i):
    return round(100 + (i % 97) * 1.61 + (i % 13) * 0.07, 2)


def line_terms(i, amount):
    """(amount paid, interest and fine, discount) of return line ``i``."""
    amount = Decimal(str(amount))
    if i % 5 == 0:
        interest = (amount * Decimal("0.02") + amount * Decimal("0.0005") * (1 + i % 9)).quantize(
            Decimal("0.01")
        )
        return amount + interest, interest, Decimal(0)
    if i % 7 == 0:
        return amount - DISCOUNT, Decimal(0), DISCOUNT
    return amount, Decimal(0), Decimal(0)


def code_version():
    head = common.git("rev-parse", "--short", "HEAD") or "?"
    dirty = common.git("status", "--porcelain", "--", "rbm_dunning")
    return f"{head}" + (f" + {len(dirty.splitlines())} changes in rbm_dunning" if dirty else "")


# ----------------------------------------------------------------------------
# setup (committed once, reused)
# ----------------------------------------------------------------------------


def setup_company(env):
    from odoo import Command

    company, _journal = common.ensure_accounting(env)
    brl = env.ref("base.BRL")
    if company.currency_id != brl:
        if env["account.move.line"].search_count([("company_id", "=", company.id)], limit=1):
            raise SystemExit(f"bench: {company.name} has entries in another currency than BRL")
        brl.active = True
        company.currency_id = brl
    company.write(
        {
            "vat": COMPANY_CNPJ,
            "country_id": env.ref("base.br").id,
            "street": "Av. Paulista, 1000",
            "city": "São Paulo",
            "zip": "01310-100",
        }
    )
    account = env["rbm.collection.account"].search([("name", "=", "Bench Itaú 109")])
    journal = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
    )
    accounts = env["account.account"].with_company(company)
    income = accounts.search([("account_type", "=", "income_other")], limit=1) or accounts.search(
        [("account_type", "=", "income")], limit=1
    )
    expense = accounts.search([("account_type", "=", "expense")], limit=1)
    if not account:
        bank = env["res.partner.bank"].create(
            {"acc_number": "0810 53678-9", "partner_id": company.partner_id.id}
        )
        account = env["rbm.collection.account"].create(
            {
                "name": "Bench Itaú 109",
                **ITAU,
                "partner_bank_id": bank.id,
                "journal_id": journal.id,
                "interest_account_id": income.id,
                "fee_account_id": expense.id,
                "discount_account_id": expense.id,
                "interest_rate": 1.0,
                "fine_rate": 2.0,
            }
        )
    product = env["product.product"].search([("default_code", "=", PREFIX)])
    if not product:
        product = env["product.product"].create(
            {
                "name": "Bench subscription",
                "default_code": PREFIX,
                "type": "service",
                "taxes_id": [Command.clear()],
            }
        )
    return company, account, journal, product


def setup_invoices(env, args, account, product):
    """``(rbm invoices, plain invoices)``: ``lines + warmup`` and ``plain
    sample + warmup``, posted; resumes an interrupted setup (each batch is
    committed). Returns them and whether any was created."""
    from odoo import Command, fields

    totals = {"rbm": args.lines + args.warmup, "plain": args.plain_sample + args.warmup}
    Move = env["account.move"]
    sides = {
        side: Move.search([("ref", "=like", f"{PREFIX}-{side}-%")], order="ref") for side in totals
    }
    created = False
    today = fields.Date.context_today(Move)
    invoice_date = today - timedelta(days=40)
    partners = env["res.partner"].search([("name", "=like", "Bench CNAB customer %")], order="name")
    needed = max(totals.values())
    for offset in range(len(partners), needed, 1000):
        partners |= env["res.partner"].create(
            [
                {
                    "name": f"Bench CNAB customer {i:05d}",
                    "vat": cpf(100000 + i),
                    "street": f"Rua das Acácias, {i % 900 + 1}",
                    "street2": "Jardim Paulista",
                    "zip": "01310-100",
                    "city": "São Paulo",
                    "state_id": env.ref("base.state_br_sp").id,
                    "country_id": env.ref("base.br").id,
                }
                for i in range(offset, min(needed, offset + 1000))
            ]
        )
        env.cr.commit()
    for side, total in totals.items():
        for offset in range(len(sides[side]), total, 500):
            vals_list = [
                {
                    "move_type": "out_invoice",
                    "partner_id": partners[i].id,
                    "invoice_date": invoice_date,
                    "invoice_date_due": invoice_date + timedelta(days=30),
                    "ref": f"{PREFIX}-{side}-{i:05d}",
                    "rbm_collection_account_id": account.id if side == "rbm" else False,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": product.id,
                                "quantity": 1,
                                "price_unit": invoice_amount(i),
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
                for i in range(offset, min(total, offset + 500))
            ]
            moves = Move.create(vals_list)
            moves.action_post()
            env.flush_all()
            env.cr.commit()
            env.invalidate_all()
            print(f"setup: {side} {offset + len(moves)}/{total} invoices posted", flush=True)
            sides[side] |= moves
            created = True
    remittance = env["rbm.cnab.file"]._generate_remittance(account)
    if remittance:
        print(f"setup: remittance {remittance.name}, {remittance.line_count} lines", flush=True)
        env.cr.commit()
    return sides["rbm"][: totals["rbm"]], sides["plain"][: totals["plain"]], created


# ----------------------------------------------------------------------------
# the return file
# ----------------------------------------------------------------------------


def return_240(boletos, first_index, credit_date, nsa):
    """CNAB 240 return of ``boletos`` (Itaú layout, segments T + U), as bytes."""
    from odoo.addons.rbm_dunning.engine import cnab

    layout = cnab.cnab240_layout("341", "return")
    common = {
        "batch": 1,
        "company_document_type": "2",
        "company_document": COMPANY_CNPJ,
        "branch": ITAU["branch"],
        "account": ITAU["account_number"],
    }

    def write(record, values):
        return record.to_line({k: v for k, v in values.items() if k in record.names})

    lines = [
        write(
            layout["file_header"],
            {**common, "file_type": "2", "generated_on": credit_date, "file_sequence": nsa},
        ),
        write(layout["batch_header"], {**common, "operation": "T"}),
    ]
    sequence = 0
    for index, boleto in enumerate(boletos, first_index):
        paid, interest, discount = line_terms(index, boleto.amount)
        amount = Decimal(str(boleto.amount)).quantize(Decimal("0.01"))
        our_number = boleto.our_number  # 109/00000001-7
        sequence += 1
        lines.append(
            write(
                layout["T"],
                {
                    **common,
                    "sequence": sequence,
                    "occurrence": "06",
                    "portfolio": ITAU["portfolio"],
                    "our_number": our_number[4:12],
                    "our_number_digit": our_number[-1],
                    "document_number": boleto.move_id.name[-10:],
                    "due_date": boleto.due_date,
                    "amount": amount,
                    "fee": FEE,
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
                    "interest_fine": interest,
                    "discount": discount,
                    "amount_paid": paid,
                    "net_amount": paid - FEE,
                    "occurrence_date": credit_date,
                    "credit_date": credit_date,
                },
            )
        )
    lines.append(write(layout["batch_trailer"], {**common, "record_count": sequence + 2}))
    lines.append(layout["file_trailer"].to_line({"batch_count": 1, "record_count": len(lines) + 1}))
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


# ----------------------------------------------------------------------------
# the two sides
# ----------------------------------------------------------------------------


def rbm_import(env, account, content, name):
    return env["rbm.cnab.file"]._import_return(account, content, name)


def plain_register(env, invoices, first_index, account, journal, credit_date, batch_size, mode):
    """Plain Odoo: the register-payment wizard. ``accountant``: the invoices
    paid at face value in wizards of ``batch_size``, the others one wizard
    each with the amount received and the difference written off;
    ``fastest``: every invoice in wizards of ``batch_size`` at face value (no
    interest or discount booked: less work than the return asks, the fastest
    the wizard goes). Then one entry for the bank fees. Returns the payments."""
    from odoo import Command

    Register = env["account.payment.register"]
    face, special = [], []
    for index, invoice in enumerate(invoices, first_index):
        paid, interest, discount = line_terms(index, invoice.amount_total)
        if mode == "accountant" and (interest or discount):
            special.append((invoice, paid, interest))
        else:
            face.append(invoice)
    payments = env["account.payment"]
    for start in range(0, len(face), batch_size):
        moves = env["account.move"].concat(*face[start : start + batch_size])
        wizard = Register.with_context(active_model="account.move", active_ids=moves.ids).create(
            {"payment_date": credit_date, "journal_id": journal.id, "group_payment": False}
        )
        payments |= wizard._create_payments()
    for invoice, paid, interest in special:
        wizard = Register.with_context(active_model="account.move", active_ids=invoice.ids).create(
            {
                "payment_date": credit_date,
                "journal_id": journal.id,
                "amount": float(paid),
                "payment_difference_handling": "reconcile",
                "writeoff_account_id": (
                    account.interest_account_id if interest else account.discount_account_id
                ).id,
                "writeoff_label": "Juros e multa" if interest else "Desconto",
            }
        )
        payments |= wizard._create_payments()
    fee_total = FEE * len(invoices)
    lines = [
        Command.create(
            {
                "name": f"Tarifa - {invoice.name}",
                "account_id": account.fee_account_id.id,
                "partner_id": invoice.partner_id.id,
                "debit": float(FEE),
            }
        )
        for invoice in invoices
    ]
    lines.append(
        Command.create(
            {
                "name": "Tarifas",
                "account_id": account._get_outstanding_account("outbound").id,
                "credit": float(fee_total),
            }
        )
    )
    fees = env["account.move"].create(
        {"move_type": "entry", "journal_id": journal.id, "date": credit_date, "line_ids": lines}
    )
    fees.action_post()
    return payments


def run(args):
    import odoo
    from odoo import SUPERUSER_ID, api, fields

    registry = odoo.modules.registry.Registry(args.db)
    t_setup = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(
            cr,
            SUPERUSER_ID,
            {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True},
        )
        _company, account, journal, product = setup_company(env)
        cr.commit()
        rbm_moves, plain_moves, created = setup_invoices(env, args, account, product)
        ids = (account.id, journal.id, rbm_moves.ids, plain_moves.ids)
    with registry.cursor() as cr:
        cr.execute("ANALYZE")
    print(
        f"setup: {len(ids[2])} + {len(ids[3])} invoices "
        f"({'created' if created else 'reused'}) in {time.perf_counter() - t_setup:.1f}s; "
        f"code {code_version()}",
        flush=True,
    )

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["rbm.collection.account"].browse(ids[0])
        journal = env["account.journal"].browse(ids[1])
        rbm_moves = env["account.move"].browse(ids[2])
        plain_moves = env["account.move"].browse(ids[3])
        today = fields.Date.context_today(account)
        credit_date = today - timedelta(days=2)
        boletos = rbm_moves.rbm_boleto_ids.sorted(lambda b: b.move_id.ref)
        if len(boletos) != len(rbm_moves) or set(boletos.mapped("state")) != {"in_remessa"}:
            raise SystemExit(
                f"bench: the RBM invoices' boletos are {set(boletos.mapped('state'))}, "
                "expected one in_remessa each (drop the database and start again)"
            )
        warm, n = args.warmup, args.lines
        warm_file = return_240(boletos[:warm], 0, credit_date, 1)
        t0 = time.perf_counter()
        content = return_240(boletos[warm:], warm, credit_date, 2)
        print(
            f"return file: {n} titles, {len(content.splitlines())} lines of 240, "
            f"{len(content) / 1e6:.1f} MB, written in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        # warm-up, untimed
        rbm_import(env, account, warm_file, "warmup.ret")
        for mode in args.plain_modes:
            savepoint(env, "bench_plain")
            plain_register(
                env, plain_moves[:warm], 0, account, journal, credit_date, args.batch_size, mode
            )
            rollback_to(env, "bench_plain")
        env.flush_all()
        cr.execute("ANALYZE account_move, account_move_line, account_payment, rbm_boleto")

        prof = common.QueryProfiler(REPO) if args.profile else None
        if prof:
            import threading

            threading.current_thread().query_hooks = [prof.hook]
        rbm_todo, plain_todo = rbm_moves[warm:], plain_moves[warm:]
        sample = len(plain_todo)
        results = {}

        def expected_received(moves):
            terms = (line_terms(i, m.amount_total)[0] for i, m in enumerate(moves, warm))
            return sum(terms, Decimal(0))

        def check_paid(side, moves, payments, received):
            env.invalidate_all()
            unpaid = [m.name for m in moves if m.payment_state not in ("paid", "in_payment")]
            if unpaid:
                raise SystemExit(f"bench: {side}: {len(unpaid)} invoices not paid, {unpaid[:5]}")
            total = sum((Decimal(str(p.amount)) for p in payments), Decimal(0))
            if total != received:
                raise SystemExit(f"bench: {side}: received {total}, expected {received}")
            return total

        def timed(side):
            env.invalidate_all()
            if prof:
                prof.active = side == "rbm"
            q0, t0 = cr.sql_log_count, time.perf_counter()
            if side == "rbm":
                cnab_file = rbm_import(env, account, content, "bench.ret")
            else:
                savepoint(env, "bench_plain")
                payments = plain_register(
                    env, plain_todo, warm, account, journal, credit_date, args.batch_size, side
                )
            env.flush_all()
            seconds, queries = time.perf_counter() - t0, cr.sql_log_count - q0
            if prof:
                prof.active = False
            if side == "rbm":
                received = check_paid(
                    side, rbm_todo, cnab_file.payment_ids, expected_received(rbm_todo)
                )
                if set(boletos[warm:].mapped("state")) != {"paid"}:
                    raise SystemExit("bench: rbm: not every boleto is paid")
                count = len(cnab_file.payment_ids)
            else:
                face = sum((Decimal(str(m.amount_total)) for m in plain_todo), Decimal(0))
                expected = expected_received(plain_todo) if side == "accountant" else face
                received = check_paid(side, plain_todo, payments, expected)
                count = len(payments)
                rollback_to(env, "bench_plain")
            lines = n if side == "rbm" else sample
            results[side] = (lines / seconds, queries / lines)
            print(
                f"{side}: {lines} lines in {seconds:.1f}s = {lines / seconds:.1f} lines/s, "
                f"{queries / lines:.1f} queries/line; {count} payments, R$ {received} received",
                flush=True,
            )

        sides = ("rbm", *args.plain_modes)
        for side in sides if args.order == "rbm-first" else sides[::-1]:
            timed(side)
        cr.rollback()
    if prof:
        common.print_profile("RBM return import", prof, n, args.profile_top)
    rbm_rate, rbm_q = results["rbm"]
    for mode in args.plain_modes:
        plain_rate, plain_q = results[mode]
        print(
            f"plain Odoo ({mode}, {sample} invoices): {plain_rate:.1f} payments/s, "
            f"{plain_q:.1f} queries/payment, RBM ratio {rbm_rate / plain_rate:.2f}",
            flush=True,
        )
    # the headline ratio is against the fastest plain side measured
    plain_rate = max(results[mode][0] for mode in args.plain_modes)
    print(
        f"cnab: {n} lines, {rbm_rate:.0f} lines/s, ratio {rbm_rate / plain_rate:.2f} vs plain "
        f"Odoo, {rbm_q:.1f} queries/line",
        flush=True,
    )


PLAIN_MODES = ("accountant", "fastest")


def savepoint(env, name):
    env.flush_all()
    env.cr.execute(f"SAVEPOINT {name}")


def rollback_to(env, name):
    """Undo the plain side (its invoices serve the next plain mode)."""
    env.cr.execute(f"ROLLBACK TO SAVEPOINT {name}")
    env.cr.precommit.clear()
    env.cr.postcommit.clear()
    env.invalidate_all()


def main():
    args = parse_args()
    args.plain_modes = tuple(m.strip() for m in args.plain_modes.split(",") if m.strip())
    if not args.plain_modes or set(args.plain_modes) - set(PLAIN_MODES):
        raise SystemExit(f"bench: --plain-modes takes {', '.join(PLAIN_MODES)}")
    args.plain_sample = min(args.plain_sample, args.lines)
    if min(args.lines, args.batch_size, args.plain_sample) < 1 or args.warmup < 1:
        raise SystemExit("bench: --lines, --batch-size and --warmup must be > 0")
    # without --no-http, as before
    common.setup_odoo(args, "rbm_dunning", http=True)
    run(args)


if __name__ == "__main__":
    main()
