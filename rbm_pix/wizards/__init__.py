from . import rbm_pix_refund_wizard
