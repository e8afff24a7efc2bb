{
    "name": "RBM Brazilian Demo",
    "summary": "Demo: a Brazilian company with a year of billing and collection history",
    "version": "18.0.1.0.0",
    "category": "Sales/Subscriptions",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_recurring", "rbm_metering", "rbm_dunning", "payment_demo"],
    "external_dependencies": {"python": ["freezegun"]},
    "data": [],
    "demo": ["demo/rbm_demo_br_demo.xml"],
    "installable": True,
}
