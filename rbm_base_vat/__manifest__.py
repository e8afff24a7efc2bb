{
    "name": "RBM Collection – Brazilian Tax ID in Odoo's VAT check",
    "summary": "Odoo's VAT check (base_vat, l10n_br) accepts the alphanumeric CNPJ with the "
    "product's rule",
    "version": "18.0.0.1.0",
    "category": "Hidden",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_dunning", "base_vat"],
    "data": [],
    "auto_install": True,
    "installable": True,
}
