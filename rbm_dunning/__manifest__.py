{
    "name": "RBM Collection",
    "summary": "Brazilian collection: boleto, CNAB, Pix, direct debit, dunning, delinquency",
    "version": "18.0.0.1.0",
    "category": "Sales/Subscriptions",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_recurring", "account_payment"],
    "data": [
        "security/rbm_dunning_groups.xml",
        "views/rbm_dunning_menus.xml",
    ],
    "installable": True,
}
