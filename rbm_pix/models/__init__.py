from . import account_move, rbm_pix_charge, rbm_pix_connection
