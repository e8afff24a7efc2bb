"""Helpers shared by the models of the RBM addons."""

import sys
import threading

from odoo import modules
from odoo.exceptions import AccessError

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
