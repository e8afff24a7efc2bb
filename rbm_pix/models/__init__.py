from . import (
    account_move,
    account_payment,
    rbm_boleto,
    rbm_contract,
    rbm_pix_authorization,
    rbm_pix_charge,
    rbm_pix_connection,
    rbm_pix_cycle_charge,
    rbm_pix_refund,
)
