from . import (
    test_authorization,
    test_boleto_hybrid,
    test_cobv,
    test_connection,
    test_cycle_charge,
    test_notification_batch,
    test_refund,
)
