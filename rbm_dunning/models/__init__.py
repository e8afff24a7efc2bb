from . import (
    account_move,
    account_move_line,
    account_move_send,
    rbm_boleto,
    rbm_cnab_file,
    rbm_cnab_occurrence,
    rbm_collection_account,
    rbm_contract,
)
