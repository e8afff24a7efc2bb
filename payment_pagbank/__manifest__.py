{
    "name": "Payment Provider: PagBank",
    "summary": "PagBank (PagSeguro) payments: card with saved cards, Pix and boleto",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["payment", "account_payment"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "views/payment_pagbank_templates.xml",
        "views/payment_provider_views.xml",
        "views/payment_transaction_views.xml",
        "data/payment_provider_data.xml",
        "data/ir_cron_data.xml",
    ],
    "assets": {
        "web.assets_frontend": [
            "payment_pagbank/static/src/js/payment_form.js",
        ],
    },
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
    "installable": True,
}
