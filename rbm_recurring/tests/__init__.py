from . import (
    test_billing,
    test_concurrency,
    test_kpi,
    test_lifecycle,
    test_multicompany,
    test_portal,
    test_portal_change,
    test_price_adjustment,
    test_provisioning,
    test_self_service,
    test_self_service_concurrency,
    test_tours,
)
