{
    "name": "RBM Recurring Billing – Parallel Billing Run on queue_job",
    "summary": "The billing cron enqueues one OCA queue_job job per chunk of due contracts",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "RBM",
    "website": "https://github.com/rbm-odoo/rbm",
    "license": "LGPL-3",
    "depends": ["rbm_recurring", "queue_job"],
    "data": [
        "data/queue_job_data.xml",
        "views/queue_job_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
