#!/usr/bin/env bash
# Runs the billing benchmark (bench/billing.py) with Odoo's interpreter.
#   bench/run.sh                      # rbm_bench database, 2000 contracts
#   bench/run.sh --contracts 500 --profile
# ODOO_HOME (default /opt/odoo) holds odoo-bin; ODOO_PYTHON (default
# $ODOO_HOME/.venv/bin/python, else python3) is its interpreter. BENCH_DB
# (default rbm_bench) is the database, created with rbm_recurring when missing.
# PGHOST/PGPORT/PGUSER/PGPASSWORD are honoured. Other arguments go to billing.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ODOO_HOME="${ODOO_HOME:-/opt/odoo}"
if [ -z "${ODOO_PYTHON:-}" ]; then
    if [ -x "$ODOO_HOME/.venv/bin/python" ]; then
        ODOO_PYTHON="$ODOO_HOME/.venv/bin/python"
    else
        ODOO_PYTHON=python3
    fi
fi
exec "$ODOO_PYTHON" "$here/billing.py" --db "${BENCH_DB:-rbm_bench}" "$@"
