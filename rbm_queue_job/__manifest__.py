{
    "name": "RBM Recurring Billing – Parallel Runs on queue_job",
    "summary": "The billing, rating, collection, card charge, price adjustment and "
    "provisioning crons enqueue OCA queue_job jobs of N records each",
    "version": "18.0.1.1.0",
    "category": "Hidden",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_recurring", "rbm_metering", "rbm_dunning", "queue_job"],
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "views/queue_job_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "rbm_queue_job/static/tests/tours/*.js",
        ],
    },
    "auto_install": True,
    "installable": True,
}
