{
    "name": "RBM Collection – Pix API",
    "summary": "Dynamic Pix and Pix Automático through the Banco Central's standard Pix API",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_dunning"],
    "external_dependencies": {"python": ["requests", "cryptography"]},
    "data": [],
    "installable": True,
}
