from odoo.tests import common

# queue_job's test helpers (queue_job.tests.common) register themselves in
# odoo.tests.common.SETATTR_SOURCES, which Odoo 18 source trees older than
# that name lack: an empty one lets them load there and changes nothing else
common.__dict__.setdefault("SETATTR_SOURCES", {})

from . import (  # noqa: E402
    test_billing_jobs,
    test_billing_jobs_concurrency,
    test_job_progress,
    test_read_replica,
    test_run_jobs_concurrency,
)
