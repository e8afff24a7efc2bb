"""Helpers shared by the models of the RBM addons."""

import contextlib
import sys
import threading

from odoo import modules
from odoo.exceptions import AccessError
from odoo.tools import config

# what happens on the day after a commitment (fidelidade) ends; the plan sets
# it, each contract may override it
COMMITMENT_END_ACTIONS = [
    ("continue", "Continue without commitment"),
    ("renew", "Renew the commitment"),
    ("end", "End the contract"),
]


def check_staff_access(records, operation="write"):
    """Refuse a back-office action to anyone but staff allowed ``operation``
    on ``records``.

    Every public method is callable over RPC (``/web/dataset/call_button``,
    ``call_kw``), whatever view shows its button: the ``action_*`` methods and
    the services integrators call start with this check, before any ``sudo()``.
    Portal and public users are refused even on records they may read (their
    own contract or invoice); internal users need the access rights and record
    rules of ``operation``. Superuser calls (crons, portal controllers working
    on ``*_sudo`` records) pass.
    """
    env = records.env
    if env.su:
        return
    if not env.user._is_internal():
        ids = ", ".join(f"#{record_id}" for record_id in records.ids[:10])
        raise AccessError(
            env._(
                "You are not allowed to run %(action)s on '%(model)s' (%(model_name)s) "
                "records %(ids)s: back-office actions are for staff (internal users) only.",
                action=sys._getframe(1).f_code.co_name,
                model=records._description,
                model_name=records._name,
                ids=ids or "-",
            )
        )
    records.check_access(operation)


def auto_commit_allowed():
    """Whether a cron may commit batch after batch around its external side
    effects (card charges, webhooks, collection steps): always, except inside
    Odoo's tests, which run in one transaction rolled back at the end."""
    return not (
        getattr(threading.current_thread(), "testing", False) or modules.module.current_test
    )


@contextlib.contextmanager
def replica_env(env):
    """``env`` on a read-only cursor of the database replica when Odoo has
    one (``db_replica_host``), else ``env`` itself: for reports that only
    read committed data (aging, KPIs, statements), so that their load goes to
    the replica. The replica lags behind and does not see the current
    transaction's writes: never for data written in the same request. Inside
    a request already on a read-only cursor (an ``@api.readonly`` method, a
    ``readonly=True`` route), or in an HTTP test, ``env`` itself."""
    registry = env.registry
    if (
        config["db_replica_host"] is False
        or registry._db_readonly is None
        or env.cr.readonly
        or registry.test_cr is not None
    ):
        yield env
        return
    with contextlib.closing(registry.cursor(readonly=True)) as cr:
        yield env(cr=cr)
