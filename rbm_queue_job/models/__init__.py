from . import rbm_billing_run
