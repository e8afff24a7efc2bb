"""18.0.1.2.0: the billing run moved from rbm.contract to its own service
model, rbm.billing.run (the lifecycle pass became its own cron, created by the
upgrade). The billing cron is a noupdate record: point it at the new model."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    cron = env.ref("rbm_recurring.ir_cron_rbm_billing_run", raise_if_not_found=False)
    model = env["ir.model"]._get("rbm.billing.run")
    if cron and model:
        cron.write({"model_id": model.id, "code": "model._cron_billing_run()"})
