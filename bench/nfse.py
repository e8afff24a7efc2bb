#!/usr/bin/env python3
"""NFS-e issuing benchmark: ``rbm.nfse._cron_issue`` issuing 2,000 NFS-e against the local Sefin.

Bootstraps Odoo like bench/billing.py (with the helpers of bench/common.py)::

    ODOO_HOME=/opt/odoo /opt/odoo/.venv/bin/python bench/nfse.py --db rbm_bench --count 2000

In ONE transaction, rolled back at the end (the database stays reusable), it starts the local
Sefin Nacional of the tests (``rbm_nfse/tests/sefin_server.py``: HTTPS with mutual TLS, each
DPS checked against the official XSD and its signature, each NFS-e built, validated and signed
by the server), configures the company (CNPJ, municipality, series, A1 certificate of a CA made
for the run), creates ``--count`` invoices of one service line for ``--customers`` customers
and posts them (each queues its NFS-e), then runs the issuing cron
(``_cron_issue(batch_size)``) until nothing is due. Timed: the cron calls only (wall time and
SQL queries); inside them, per NFS-e, the engine's split (``prepare_dps`` timings: build,
validate against the XSD, sign + re-validate + pack) and the send (``SefinClient.issue``:
the HTTPS round trip, the server's own checks and signature included, since it runs in this
process). The cron's commit after each NFS-e is turned off (one transaction to roll back).

The last line is the summary, e.g.
``nfse: 2000 NFS-e, 21.3 NFS-e/s, 38.2 queries per NFS-e, build 3.1 ms, validate 2.0 ms,
sign 6.5 ms, send 30.2 ms``.
"""

import argparse
import base64
import cProfile
import importlib.util
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402 - what the benchmarks share (bench/common.py)

ISSUER_CNPJ = "11222333000181"
CUSTOMER_CNPJ = "11444777000161"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="rbm_bench", help="database (default: rbm_bench)")
    parser.add_argument("--count", "-n", type=int, default=2000, help="NFS-e to issue")
    parser.add_argument("--customers", type=int, default=100, help="customers (default: 100)")
    parser.add_argument("--batch-size", type=int, default=50, help="cron batch (default: 50)")
    parser.add_argument("--warmup", type=int, default=20, help="NFS-e issued before timing")
    parser.add_argument("--update", action="store_true", help="odoo-bin -u rbm_nfse first")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the N costliest functions"
    )
    common.add_odoo_arguments(parser)
    return parser.parse_args()


def configure(env, sefin, pki):
    from odoo import fields

    company = env.company
    params = env["ir.config_parameter"]
    params.set_param("rbm_nfse.sefin_ca_file", pki.ca_cert)
    company.write(
        {
            "vat": "11.222.333/0001-81",
            "nfse_url_restricted": sefin.base_url,
            "nfse_enabled": True,
            "nfse_municipal_registration": "1234567",
            "nfse_city_ibge": "3550308",
            "nfse_regime": "normal",
            "nfse_environment": "2",
            "nfse_series": "77",  # a series of its own: no DPS number of the database is reused
            "nfse_issue_moment": "post",
            "nfse_start_date": fields.Date.today(),
            "nfse_service_code": "010501",
            "nfse_nbs_code": "115022000",
            "nfse_iss_rate": 5.0,
            "nfse_ibscbs_cst": "000",
            "nfse_ibscbs_class": "000001",
            "nfse_operation_indicator": "030101",
        }
    )
    env["rbm.nfse.certificate"].create(
        {
            "company_id": company.id,
            "file": base64.b64encode(Path(pki.client_p12).read_bytes()),
            "password": pki.client_p12_password,
        }
    )
    return company


def make_invoices(env, company, count, customers):
    from odoo import Command, fields

    product = env["product.product"].create(
        {"name": "Assinatura (bench NFS-e)", "type": "service", "taxes_id": [Command.clear()]}
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Cliente Bench NFS-e {i:04d} Ltda",
                "is_company": True,
                "vat": CUSTOMER_CNPJ,
                "street": f"Rua Augusta, {100 + i}",
                "street2": "Consolação",
                "zip": "01304000",
                "nfse_city_ibge": "3550308",
            }
            for i in range(customers)
        ]
    )
    moves = env["account.move"]
    for start in range(0, count, 200):
        vals = [
            {
                "move_type": "out_invoice",
                "company_id": company.id,
                "partner_id": partners[i % customers].id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "quantity": 1,
                            "price_unit": 99.90 + (i % 7),
                        }
                    )
                ],
            }
            for i in range(start, min(start + 200, count))
        ]
        batch = env["account.move"].create(vals)
        batch.action_post()
        moves |= batch
    return moves


def run(args):  # noqa: C901 -- the steps of the run, in order
    import odoo
    from odoo import SUPERUSER_ID, api

    from odoo.addons.rbm_nfse.engine import dps as dps_engine
    from odoo.addons.rbm_nfse.engine import sefin as sefin_engine
    from odoo.addons.rbm_nfse.models import rbm_nfse as nfse_module

    # the local Sefin of the tests, loaded by its path (the tests package imports odoo.tests)
    spec = importlib.util.spec_from_file_location(
        "rbm_nfse_sefin_server", os.path.join(REPO, "rbm_nfse", "tests", "sefin_server.py")
    )
    sefin_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sefin_server)
    SefinServer, make_pki = sefin_server.SefinServer, sefin_server.make_pki

    registry = odoo.modules.registry.Registry(args.db)
    if common.missing_columns(registry):
        common.run_odoo_bin(args, ["-u", "rbm_nfse"])
        registry = odoo.modules.registry.Registry.new(args.db)

    split = {"build": [], "validate": [], "sign": [], "send": []}
    prepare_dps = dps_engine.prepare_dps
    issue = sefin_engine.SefinClient.issue
    measuring = {"on": False}

    def timed_prepare(*a, **kw):
        prepared = prepare_dps(*a, **kw)
        if measuring["on"]:
            for key in ("build", "validate", "sign"):
                split[key].append(prepared.timings[key])
        return prepared

    def timed_issue(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return issue(self, *a, **kw)
        finally:
            if measuring["on"]:
                split["send"].append(time.perf_counter() - t0)

    dps_engine.prepare_dps = timed_prepare
    sefin_engine.SefinClient.issue = timed_issue
    # one transaction, rolled back at the end: the cron's commit per NFS-e is turned off
    nfse_module.auto_commit_allowed = lambda: False

    with tempfile.TemporaryDirectory(prefix="bench-nfse-") as folder:
        pki = make_pki(folder, cnpj=ISSUER_CNPJ)
        sefin = SefinServer(pki=pki).start()
        try:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                try:
                    common.ensure_accounting(env)
                    t0 = time.perf_counter()
                    company = configure(env, sefin, pki)
                    Nfse = env["rbm.nfse"]
                    # what the database already had due is issued first, untimed
                    Nfse._cron_issue(batch_size=100000)
                    warm = make_invoices(env, company, args.warmup, min(args.warmup, 10))
                    Nfse._cron_issue(batch_size=100000)
                    assert set(warm.mapped("rbm_nfse_state")) == {"issued"}, "warm-up"
                    moves = make_invoices(env, company, args.count, args.customers)
                    env.flush_all()
                    print(
                        f"bench: setup {len(moves)} invoices posted (NFS-e queued) in "
                        f"{time.perf_counter() - t0:.1f} s (rolled back at the end)",
                        flush=True,
                    )
                    meter = common.Meter(cr)
                    measuring["on"] = True
                    profiler = cProfile.Profile() if args.profile else None
                    runs = 0
                    while Nfse._count_due():
                        env.invalidate_all()
                        with meter:
                            if profiler:
                                profiler.enable()
                            Nfse._cron_issue(batch_size=args.batch_size)
                            if profiler:
                                profiler.disable()
                        runs += 1
                    measuring["on"] = False
                    if profiler:
                        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
                    nfse = moves.rbm_nfse_id
                    issued = nfse.filtered(lambda n: n.state == "issued")
                    assert len(issued) == args.count, {
                        s: nfse.mapped("state").count(s) for s in set(nfse.mapped("state"))
                    }
                    assert len(set(issued.mapped("number"))) == args.count, "numbers"
                    assert len(set(issued.mapped("access_key"))) == args.count, "keys"
                    numbers = sorted(issued.mapped("number"))
                    assert numbers == list(range(numbers[0], numbers[0] + args.count)), "gap"
                    rate = args.count / meter.seconds
                    per = meter.queries / args.count
                    ms = {key: 1000 * statistics.fmean(values) for key, values in split.items()}
                    other = 1000 * meter.seconds / args.count - sum(ms.values())
                    print(
                        f"bench: {runs} cron runs of {args.batch_size}, {meter.seconds:.1f} s, "
                        f"{meter.queries} queries; per NFS-e: build {ms['build']:.2f} ms, "
                        f"validate {ms['validate']:.2f} ms, sign {ms['sign']:.2f} ms, send "
                        f"{ms['send']:.2f} ms, the rest (ORM, certificate, attachments, "
                        f"chatter) {other:.2f} ms"
                    )
                    print(
                        f"nfse: {args.count} NFS-e, {rate:.1f} NFS-e/s, {per:.1f} queries per "
                        f"NFS-e, build {ms['build']:.1f} ms, validate {ms['validate']:.1f} ms, "
                        f"sign {ms['sign']:.1f} ms, send {ms['send']:.1f} ms"
                    )
                finally:
                    cr.rollback()
        finally:
            sefin.stop()


def main():
    args = parse_args()
    common.setup_odoo(args, module="rbm_nfse")
    run(args)


if __name__ == "__main__":
    main()
