from . import (
    account_move,
    product_template,
    rbm_contract,
    rbm_contract_line,
    rbm_plan,
    rbm_plan_line,
    res_partner,
)
