"""What the runs on queue_job share: chunks, identity keys, enqueueing
without duplicates, row locks that skip rows another job holds, and the
translation of a transient database error into a retry of the job.

Every run's job identity key reads ``<model>.<job method>:<day>:<digest of
the chunk's ids>``: the same chunk on the same day is one job, however often
the run is started, and the back office groups a run's jobs by the key's
first two parts (``rbm.job.progress``)."""

import contextlib
import hashlib
from datetime import timedelta

from odoo import api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

# job states in which a chunk is already taken care of
OPEN_JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started")
# rows another transaction held are tried again after this delay
FOLLOW_UP_DELAY = timedelta(minutes=1)


@contextlib.contextmanager
def retry_on_transient_error(env, what):
    """Turn a lock or serialization failure met by the job into
    ``RetryableJobError``: queue_job rolls the job back and performs it again
    later, with the back-off of its job function."""
    try:
        yield
    except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
        raise RetryableJobError(
            env._(
                "%(what)s postponed by a concurrent transaction: %(error)s", what=what, error=error
            )
        ) from error


class RbmJobRun(models.AbstractModel):
    _name = "rbm.job.run"
    _description = "Runs Split into Jobs"

    @api.model
    def _split_chunks(self, records, batch_size):
        """``records`` in chunks of ``batch_size``, in their order."""
        size = max(batch_size or 1, 1)
        return [records[index : index + size] for index in range(0, len(records), size)]

    @api.model
    def _identity_key(self, model, method, day, records):
        digest = hashlib.sha1(  # noqa: S324 - a key, not a secret
            ",".join(str(rid) for rid in sorted(records.ids)).encode()
        ).hexdigest()
        return f"{model._name}.{method}:{day.isoformat()}:{digest}"

    @api.model
    def _enqueue(self, model, method, chunks, day, description, args=(), eta=None, suffix=""):
        """Enqueue ``model.method(chunk, day, *args)`` per chunk, except the
        chunks a job already waits for or runs. ``description(index, count,
        chunk)`` names each job. Returns ``(enqueued, queued)``."""
        keys = [self._identity_key(model, method, day, chunk) + suffix for chunk in chunks]
        open_keys = set()
        if keys:
            open_keys = set(
                self.env["queue.job"]
                .sudo()
                .search([("identity_key", "in", keys), ("state", "in", OPEN_JOB_STATES)])
                .mapped("identity_key")
            )
        enqueued = 0
        for index, (chunk, key) in enumerate(zip(chunks, keys, strict=True), start=1):
            if key in open_keys:
                continue
            delayed = model.with_delay(
                identity_key=key, description=description(index, len(chunks), chunk), eta=eta
            )
            getattr(delayed, method)(chunk, day, *args)
            enqueued += 1
        return enqueued, len(chunks) - enqueued

    @api.model
    def _enqueue_follow_up(self, model, method, held, day, description, args=()):
        """Enqueue the rows another transaction held once more, a minute
        later, as one job (marked ``follow_up``: it does not enqueue again;
        its identity key ends with ``:follow-up``, the job that held them being
        still open)."""
        if not held:
            return 0
        eta = fields.Datetime.now() + FOLLOW_UP_DELAY
        return self._enqueue(
            model,
            method,
            [held],
            day,
            lambda _i, _n, chunk: description(chunk),
            args=(*args, True),
            eta=eta,
            suffix=":follow-up",
        )[0]

    @api.model
    def _lock_skip_locked(self, records, condition=None):
        """Lock the rows of ``records`` (``FOR NO KEY UPDATE SKIP LOCKED``);
        rows another transaction holds are left out, and so are rows that no
        longer meet ``condition`` (an ``SQL`` on the table's columns). Returns
        the records locked, their cache invalidated."""
        if not records:
            return records
        records.flush_recordset()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM %s WHERE id = ANY(%s) AND %s FOR NO KEY UPDATE SKIP LOCKED",
                SQL.identifier(records._table),
                records.ids,
                condition or SQL("TRUE"),
            )
        )
        locked = records.browse([row[0] for row in self.env.cr.fetchall()])
        locked.invalidate_recordset()
        return locked
