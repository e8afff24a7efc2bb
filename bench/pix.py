#!/usr/bin/env python3
"""Pix benchmark: the reconciliation of 10,000 Pix notifications (dynamic ``cobv``
charges paid at the local PSP server) by RBM, against plain Odoo registering and
reconciling the same payments with ``account.payment.register``, in the same run.

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/pix.py                  # 10,000
    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/pix.py --notifications 1000

1. Database ``--db`` (default ``rbm_bench_pix``, a throwaway database): created with
   ``-i rbm_pix --without-demo=all`` when missing. Its company is made Brazilian with
   the Itaú collection account of ``bench/cnab.py`` plus a Pix key. Once, committed in
   batches of 500 (reused by later runs): customers with a valid CPF, and
   ``--notifications`` + ``--warmup`` posted invoices per side (1 line, no tax, 100.00
   to 255.83), the RBM ones on the collection account.
2. Untimed, in the transaction rolled back at the end: the local PSP server of the
   tests (``rbm_pix/tests/psp_server.py``: bacen/pix-api 2.9.0, mutual TLS with a CA
   and a client certificate made here) is started, a PSP connection to it is created,
   each RBM invoice gets its charge (``rbm.pix.charge._create_for_installments``) and
   the charges cron sends them (``PUT /cobv/{txid}``); the payer simulator pays every
   charge (``pay_cobv``) and the notification bodies (``{"pix": [...]}``) are kept, in
   batches of ``--batch-size`` payments (100) as a PSP sends them.
3. Timed (``--order``):

   - **RBM**: each notification body goes through what the route
     (``/rbm/pix/webhook/<connection>/pix``) runs after its authentication: every
     item checked (``_check_notification_item``), then
     ``rbm.pix.charge._apply_notifications(connection, items)``: each payment applied
     once by its end-to-end id, one ``account.payment`` posted on the collection
     account's journal and reconciled with the installment.
   - **Plain Odoo**: the same number of invoices paid at face value with
     ``account.payment.register`` in wizards of ``--batch-size`` invoices
     (``group_payment`` off: one payment per invoice, created, posted and reconciled
     by the wizard in batch).

   Cold ORM cache at the start of each side, ``flush_all`` at its end; a warm-up of
   ``--warmup`` per side first (untimed). Checks: every invoice paid, the amounts
   received equal to the invoices'. The ratio is RBM payments/s over plain Odoo's.

Cycle charges (``cobr``), in the same rolled-back transaction, before the timed sides
(``--contracts``, 10,000; 0 to skip): that many contracts paid by Pix Automático, each with
an approved authorization (the recurrence created at the PSP with ``POST /rec`` and
approved by its payer simulator), and one invoice each of 150.00 due in 5 days (inside the
sending window), posted, which creates its cycle charge. Timed: the cycle charges cron
(``rbm.pix.cycle.charge._process_pending``) sending them all (``PUT /cobr/{txid}``):
charges/s and queries per charge. Checks: every charge active and at the PSP.

The last line is the summary, e.g.::

    pix: 10000 notifications, 41 payments/s, ratio 0.93 vs plain Odoo, 48.0 queries/payment;
    10000 cycle charges, 7 charges/s, 11.8 queries/charge
"""

import argparse
import base64
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cnab  # noqa: E402  (the Itaú account and the customers' data of the CNAB bench)
import common  # noqa: E402

REPO = common.REPO
PREFIX = "BENCHPIX"
NETWORKS_PARAM = "rbm_recurring.outbound_allowed_networks"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench_pix", help="throwaway database")
    parser.add_argument(
        "--notifications", "-n", type=int, default=10000, help="payments notified (10,000)"
    )
    parser.add_argument("--warmup", type=int, default=50, help="warm-up payments per side (50)")
    parser.add_argument(
        "--batch-size", type=int, default=100, help="payments per notification / wizard (100)"
    )
    parser.add_argument(
        "--order", choices=("rbm-first", "plain-first"), default="rbm-first", help="side order"
    )
    parser.add_argument(
        "--contracts",
        type=int,
        default=10000,
        help="contracts whose cycle charges are sent (10,000; 0: not measured)",
    )
    parser.add_argument("--profile", action="store_true", help="query breakdown of the RBM side")
    parser.add_argument("--profile-top", type=int, default=15)
    common.add_odoo_arguments(parser)
    return parser.parse_args()


def code_version():
    head = common.git("rev-parse", "--short", "HEAD") or "?"
    dirty = common.git("status", "--porcelain", "--", "rbm_pix", "rbm_dunning")
    return f"{head}" + (f" + {len(dirty.splitlines())} changes" if dirty else "")


# ----------------------------------------------------------------------------
# setup (committed once, reused)
# ----------------------------------------------------------------------------


def setup_invoices(env, total, account, product):
    """``{side: invoices}``: ``total`` posted invoices per side, the RBM ones on the
    collection account. Resumes an interrupted setup (each batch is committed)."""
    from odoo import Command, fields

    Move = env["account.move"]
    sides = {
        side: Move.search([("ref", "=like", f"{PREFIX}-{side}-%")], order="ref")
        for side in ("rbm", "plain")
    }
    invoice_date = fields.Date.context_today(Move) - timedelta(days=5)
    partners = env["res.partner"].search([("name", "=like", "Bench Pix customer %")], order="name")
    for offset in range(len(partners), total, 1000):
        partners |= env["res.partner"].create(
            [
                {
                    "name": f"Bench Pix customer {i:05d}",
                    "vat": cnab.cpf(200000 + i),
                    "country_id": env.ref("base.br").id,
                }
                for i in range(offset, min(total, offset + 1000))
            ]
        )
        env.cr.commit()
    for side, moves in sides.items():
        for offset in range(len(moves), total, 500):
            batch = Move.create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partners[i].id,
                        "invoice_date": invoice_date,
                        "invoice_date_due": invoice_date + timedelta(days=30),
                        "ref": f"{PREFIX}-{side}-{i:05d}",
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "product_id": product.id,
                                    "quantity": 1,
                                    "price_unit": cnab.invoice_amount(i),
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                    for i in range(offset, min(total, offset + 500))
                ]
            )
            batch.action_post()
            if side == "rbm":
                batch.write({"rbm_collection_account_id": account.id})
            env.flush_all()
            env.cr.commit()
            env.invalidate_all()
            moves |= batch
            print(f"setup: {side} {len(moves)}/{total} invoices posted", flush=True)
        sides[side] = moves
    return sides["rbm"][:total], sides["plain"][:total]


def load_psp_server():
    """The tests' PSP server module, loaded from its file (importing the addon's test
    package would load Odoo's test framework)."""
    path = os.path.join(REPO, "rbm_pix", "tests", "psp_server.py")
    spec = importlib.util.spec_from_file_location("rbm_bench_psp_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _b64(*paths):
    return base64.b64encode(b"".join(Path(path).read_bytes() for path in paths)).decode()


def start_psp(env, folder):
    """The tests' PSP server, and a connection of the company to it."""
    psp_server = load_psp_server()
    PspServer, make_pki = psp_server.PspServer, psp_server.make_pki

    pki = make_pki(os.path.join(folder, "psp"), days=30)
    psp = PspServer(pki=pki).start()
    env["ir.config_parameter"].set_param(NETWORKS_PARAM, "127.0.0.0/8")
    connection = env["rbm.pix.connection"].create(
        {
            "name": "Bench PSP",
            "base_url": psp.base_url,
            "token_url": psp.token_url,
            "client_id": "rbm-client",
            "new_client_secret": "rbm-secret",
            "pix_key": psp.pix_key,
            "certificate_file": _b64(pki.client_cert, pki.client_key),
            "ca_bundle": _b64(pki.ca_cert),
            "timeout": 30,
            "is_default": True,
        }
    )
    return psp, connection


def paid_notifications(env, psp, connection, invoices, batch_size):
    """Charges for ``invoices`` sent to the PSP and paid there; the notification
    bodies, ``batch_size`` payments each."""
    Charge = env["rbm.pix.charge"]
    lines = invoices.line_ids.filtered(lambda line: line.display_type == "payment_term")
    charges = Charge._create_for_installments(connection, lines)
    Charge._process_pending()
    not_active = charges.filtered(lambda c: c.state != "active")
    if not_active:
        raise SystemExit(
            f"bench: {len(not_active)} charges not active: {not_active[:1].error_message}"
        )
    items = []
    for charge in charges:
        e2e = psp.pay_cobv(charge.txid)
        items.append(psp._pix_notice(psp.pix[e2e]))
    return [{"pix": items[i : i + batch_size]} for i in range(0, len(items), batch_size)]


# ----------------------------------------------------------------------------
# the two sides
# ----------------------------------------------------------------------------


def rbm_apply(env, connection, bodies):
    """What the notification route runs for each body once authenticated."""
    Charge = env["rbm.pix.charge"].sudo().with_company(connection.company_id)
    paid = Charge.browse()
    for body in bodies:
        items = body["pix"]
        if not all(Charge._check_notification_item(item) for item in items):
            raise SystemExit("bench: a notification the route would refuse")
        paid |= Charge._apply_notifications(connection, items)
    return paid


def plain_register(env, invoices, journal, batch_size):
    Register = env["account.payment.register"]
    payments = env["account.payment"]
    for start in range(0, len(invoices), batch_size):
        moves = invoices[start : start + batch_size]
        wizard = Register.with_context(active_model="account.move", active_ids=moves.ids).create(
            {"journal_id": journal.id, "group_payment": False}
        )
        payments |= wizard._create_payments()
    return payments


def cycle_contracts(env, psp, connection, count, product):
    """``count`` contracts paid by Pix Automático, each with an approved authorization:
    the recurrence created at the PSP (``POST /rec``), approved by its payer simulator,
    and its authorization record (as the tests of the cycle charges do)."""
    from odoo import Command, fields

    today = fields.Date.context_today(env["rbm.contract"])
    partners = env["res.partner"].search([("name", "=like", "Bench Pix customer %")], order="name")
    partners = partners[:count]
    if len(partners) < count:
        # more customers than the notifications' (rolled back with the rest)
        partners |= env["res.partner"].create(
            [
                {
                    "name": f"Bench Pix customer {i:05d}",
                    "vat": cnab.cpf(200000 + i),
                    "country_id": env.ref("base.br").id,
                }
                for i in range(len(partners), count)
            ]
        )
    plan = env["rbm.plan"].create(
        {
            "name": "Bench Pix Automático",
            "line_ids": [
                Command.create({"product_id": product.id, "quantity": 1, "price_unit": 150})
            ],
        }
    )
    contracts = env["rbm.contract"]
    for start in range(0, count, 500):
        batch = env["rbm.contract"].create(
            [
                {
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "date_start": today,
                    "payment_mode": "pix_automatico",
                    "due_day": 10,
                }
                for partner in partners[start : start + 500]
            ]
        )
        batch.action_activate()
        contracts |= batch
    auth_vals = []
    with connection._get_client() as client:
        for contract in contracts:
            cpf = "".join(c for c in contract.partner_id.vat if c.isdigit())
            rec = client.post_rec(
                {
                    "vinculo": {
                        "contrato": contract.name[:35],
                        "devedor": {"cpf": cpf, "nome": contract.partner_id.name},
                    },
                    "calendario": {"dataInicial": today.isoformat(), "periodicidade": "MENSAL"},
                    "valor": {"valorRec": "150.00"},
                    "politicaRetentativa": "PERMITE_3R_7D",
                }
            )
            psp.approve_rec(rec["idRec"])
            auth_vals.append(
                {
                    "contract_id": contract.id,
                    "company_id": contract.company_id.id,
                    "partner_id": contract.partner_id.id,
                    "connection_id": connection.id,
                    "state": "approved",
                    "id_rec": rec["idRec"],
                    "periodicity": "MENSAL",
                    "amount_type": "fixed",
                    "amount": 150.0,
                    "start_date": today,
                    "retry_policy": "PERMITE_3R_7D",
                }
            )
    env["rbm.pix.authorization"].create(auth_vals)
    return contracts


def measure_cycle_charges(env, args, psp, connection, account, product):
    """Cycle charges (``cobr``) for ``--contracts`` contracts with an approved Pix
    Automático authorization, sent by the cycle charges cron to the local PSP:
    ``(charges, charges/s, queries per charge)``. Untimed: the contracts, their
    authorizations, and one invoice each (due in 5 days, in the sending window),
    posted, which creates its charge. Timed: the cron's run that sends them all."""
    from odoo import Command, fields

    count = args.contracts
    t0 = time.perf_counter()
    contracts = cycle_contracts(env, psp, connection, count, product)
    Move = env["account.move"]
    today = fields.Date.context_today(Move)
    moves = Move
    for start in range(0, count, 500):
        batch = Move.create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": contract.partner_id.id,
                    "rbm_contract_id": contract.id,
                    "rbm_collection_account_id": account.id,
                    "invoice_date": today,
                    "invoice_date_due": today + timedelta(days=5),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": product.id,
                                "quantity": 1,
                                "price_unit": 150.0,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
                for contract in contracts[start : start + 500]
            ]
        )
        batch.action_post()
        moves |= batch
    Cycle = env["rbm.pix.cycle.charge"]
    charges = Cycle.search([("move_id", "in", moves.ids)])
    if len(charges) != count or set(charges.mapped("state")) != {"to_send"}:
        raise SystemExit(
            f"bench: cycle: {len(charges)} charges for {count} invoices, states "
            f"{sorted(set(charges.mapped('state')))}: {charges[:1].reason}"
        )
    print(
        f"cycle: {count} contracts, authorizations and posted invoices in "
        f"{time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    env.flush_all()
    env.cr.execute("ANALYZE rbm_pix_cycle_charge, rbm_pix_authorization")
    env.invalidate_all()
    cr = env.cr
    q0, t0 = cr.sql_log_count, time.perf_counter()
    Cycle._process_pending(batch_size=count)
    env.flush_all()
    seconds, queries = time.perf_counter() - t0, cr.sql_log_count - q0
    env.invalidate_all()
    states = charges.mapped("state")
    active = states.count("active")
    sent = sum(1 for charge in charges if charge.txid in psp.cobrs)
    if active != count or sent != count:
        raise SystemExit(
            f"bench: cycle: {active} charges active, {sent} at the PSP, expected {count}: "
            f"{charges.filtered(lambda c: c.state != 'active')[:1].error_message}"
        )
    print(
        f"cycle: {count} charges sent in {seconds:.1f}s = {count / seconds:.1f} charges/s, "
        f"{queries / count:.1f} queries/charge",
        flush=True,
    )
    return count, count / seconds, queries / count


def run(args):
    import odoo
    from odoo import SUPERUSER_ID, api

    registry = odoo.modules.registry.Registry(args.db)
    total = args.notifications + args.warmup
    t_setup = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(
            cr,
            SUPERUSER_ID,
            {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True},
        )
        _company, account, journal, product = cnab.setup_company(env)
        if not account.pix_key:
            account.pix_key = cnab.COMPANY_CNPJ
        cr.commit()
        rbm_moves, plain_moves = setup_invoices(env, total, account, product)
        ids = (account.id, journal.id, rbm_moves.ids, plain_moves.ids, product.id)
    with registry.cursor() as cr:
        cr.execute("ANALYZE")
    print(
        f"setup: {len(ids[2])} + {len(ids[3])} invoices in "
        f"{time.perf_counter() - t_setup:.1f}s; code {code_version()}",
        flush=True,
    )

    folder = tempfile.mkdtemp(prefix="rbm-bench-pix-")
    results = {}
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            journal = env["account.journal"].browse(ids[1])
            rbm_moves = env["account.move"].browse(ids[2])
            plain_moves = env["account.move"].browse(ids[3])
            account = env["rbm.collection.account"].browse(ids[0])
            product = env["product.product"].browse(ids[4])
            psp, connection = start_psp(env, folder)
            try:
                t0 = time.perf_counter()
                warm, n = args.warmup, args.notifications
                warm_bodies = paid_notifications(
                    env, psp, connection, rbm_moves[:warm], args.batch_size
                )
                bodies = paid_notifications(env, psp, connection, rbm_moves[warm:], args.batch_size)
                print(
                    f"psp: {n} charges sent and paid in {time.perf_counter() - t0:.1f}s, "
                    f"{len(bodies)} notifications",
                    flush=True,
                )
                cycle = None
                if args.contracts:
                    cnab.savepoint(env, "bench_cycle")
                    cycle = measure_cycle_charges(env, args, psp, connection, account, product)
                    cnab.rollback_to(env, "bench_cycle")
            finally:
                psp.stop()
            # warm-up, untimed
            rbm_apply(env, connection, warm_bodies)
            common_savepoint(env)
            plain_register(env, plain_moves[:warm], journal, args.batch_size)
            common_rollback(env)
            env.flush_all()
            cr.execute("ANALYZE account_move, account_move_line, account_payment, rbm_pix_charge")

            prof = common.QueryProfiler(REPO) if args.profile else None
            if prof:
                import threading

                threading.current_thread().query_hooks = [prof.hook]

            def timed(side):
                todo = (rbm_moves if side == "rbm" else plain_moves)[warm:]
                env.invalidate_all()
                if prof:
                    prof.active = side == "rbm"
                q0, t0 = cr.sql_log_count, time.perf_counter()
                if side == "rbm":
                    payments = rbm_apply(env, connection, bodies).payment_id
                else:
                    payments = plain_register(env, todo, journal, args.batch_size)
                env.flush_all()
                seconds, queries = time.perf_counter() - t0, cr.sql_log_count - q0
                if prof:
                    prof.active = False
                env.invalidate_all()
                unpaid = [m.name for m in todo if m.payment_state not in ("paid", "in_payment")]
                if unpaid:
                    raise SystemExit(f"bench: {side}: {len(unpaid)} invoices not paid")
                received = sum((Decimal(str(p.amount)) for p in payments), Decimal(0))
                expected = sum((Decimal(str(m.amount_total)) for m in todo), Decimal(0))
                if received != expected or len(payments) != n:
                    raise SystemExit(
                        f"bench: {side}: {len(payments)} payments, R$ {received} received, "
                        f"expected {n} and R$ {expected}"
                    )
                results[side] = (n / seconds, queries / n)
                print(
                    f"{side}: {n} payments in {seconds:.1f}s = {n / seconds:.1f} payments/s, "
                    f"{queries / n:.1f} queries/payment; R$ {received} received",
                    flush=True,
                )

            sides = ("rbm", "plain")
            for side in sides if args.order == "rbm-first" else sides[::-1]:
                timed(side)
            cr.rollback()
        if prof:
            common.print_profile(
                "RBM Pix notifications", prof, args.notifications, args.profile_top
            )
    finally:
        shutil.rmtree(folder, True)
    rbm_rate, rbm_q = results["rbm"]
    plain_rate, plain_q = results["plain"]
    print(f"plain Odoo: {plain_rate:.1f} payments/s, {plain_q:.1f} queries/payment", flush=True)
    cycle_part = "cycle charges not measured"
    if cycle:
        cycle_part = (
            f"{cycle[0]} cycle charges, {cycle[1]:.0f} charges/s, {cycle[2]:.1f} queries/charge"
        )
    print(
        f"pix: {args.notifications} notifications, {rbm_rate:.0f} payments/s, ratio "
        f"{rbm_rate / plain_rate:.2f} vs plain Odoo, {rbm_q:.1f} queries/payment; {cycle_part}",
        flush=True,
    )


def common_savepoint(env):
    cnab.savepoint(env, "bench_plain")


def common_rollback(env):
    cnab.rollback_to(env, "bench_plain")


def main():
    args = parse_args()
    if min(args.notifications, args.batch_size, args.warmup) < 1:
        raise SystemExit("bench: --notifications, --batch-size and --warmup must be > 0")
    common.setup_odoo(args, "rbm_pix", http=True)
    run(args)


if __name__ == "__main__":
    main()
