# rbm_abstract_usage_pricing first: the line models inherit from it
from . import (
    rbm_abstract_usage_pricing,
    rbm_api_key,
    rbm_contract,
    rbm_contract_line,
    rbm_metric,
    rbm_plan_line,
    rbm_price_tier,
    rbm_usage,
)
