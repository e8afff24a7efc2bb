{
    "name": "RBM Collection – Pix API",
    "summary": "Dynamic Pix and Pix Automático through the Banco Central's standard Pix API",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_dunning", "mail"],
    "external_dependencies": {"python": ["requests", "cryptography"]},
    "data": [
        "security/ir.model.access.csv",
        "security/rbm_pix_security.xml",
        "data/rbm_pix_data.xml",
        "data/ir_cron_data.xml",
        "data/ir_cron_cycle_data.xml",
        "views/rbm_pix_charge_views.xml",
        "views/rbm_pix_connection_views.xml",
        "views/account_move_views.xml",
        "views/rbm_pix_menus.xml",
        "views/rbm_pix_cycle_charge_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "rbm_pix/static/tests/tours/*.js",
        ],
    },
    "installable": True,
}
