from . import account_payment, payment_provider, payment_token, payment_transaction
