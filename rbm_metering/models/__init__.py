# rbm_abstract_usage_pricing before the line models: they inherit from it
from . import (
    account_move,
    account_move_line,
    account_move_send,
    rbm_abstract_usage_pricing,
    rbm_api_key,
    rbm_contract,
    rbm_contract_line,
    rbm_metric,
    rbm_plan,
    rbm_plan_line,
    rbm_price_tier,
    rbm_usage,
    rbm_usage_alert,
    rbm_usage_price_filter,
    rbm_usage_statement,
)
