from . import (
    rbm_billing_run,
    rbm_card_attempt,
    rbm_collection_run,
    rbm_contract,
    rbm_job_progress,
    rbm_job_run,
    rbm_provisioning_event,
    rbm_usage_alert,
)
