from . import (
    test_api,
    test_api_key,
    test_concurrency,
    test_ingestion,
    test_portal_usage,
    test_rating,
    test_statement,
    test_tours,
    test_usage_only,
    test_usage_periods,
    test_usage_prices,
    test_usage_quantity,
)
