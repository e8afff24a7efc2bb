from . import rbm_nfse_cancel_wizard
