{
    "name": "RBM Metering",
    "summary": "Metered usage in any unit: metrics, usage events, rating and usage statements",
    "version": "18.0.0.1.0",
    "category": "Sales/Subscriptions",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_recurring"],
    "data": [
        "security/rbm_metering_groups.xml",
        "views/rbm_metering_menus.xml",
    ],
    "installable": True,
}
