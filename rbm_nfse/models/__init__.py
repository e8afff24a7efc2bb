from . import rbm_nfse_service_mixin  # noqa: I001 (before the models inheriting it)
from . import (
    account_move,
    account_move_send,
    product_template,
    rbm_nfse,
    rbm_nfse_certificate,
    rbm_nfse_counter,
    rbm_plan,
    rbm_plan_line,
    res_company,
    res_config_settings,
    res_partner,
)
