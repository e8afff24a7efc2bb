from . import (
    account_move,
    rbm_contract,
    rbm_pix_authorization,
    rbm_pix_charge,
    rbm_pix_connection,
    rbm_pix_cycle_charge,
)
