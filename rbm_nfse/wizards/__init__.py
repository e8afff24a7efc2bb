from . import rbm_nfse_cancel_wizard, rbm_nfse_replace_wizard
