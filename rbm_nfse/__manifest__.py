{
    "name": "RBM NFS-e Nacional",
    "summary": "NFS-e in the national standard (Padrão Nacional, layout 1.01)",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_recurring", "account"],
    "external_dependencies": {"python": ["nfelib", "signxml", "cryptography", "lxml"]},
    "data": [],
    "installable": True,
}
