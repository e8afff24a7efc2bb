"""The usage API ingests as its technical user (created by this version):
it gets access to the company of every existing API key."""

from odoo import SUPERUSER_ID, Command, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    user = env.ref("rbm_metering.rbm_usage_api_user", raise_if_not_found=False)
    keys = env["rbm.api.key"].with_context(active_test=False).search([])
    missing = keys.company_id - user.company_ids if user else keys.company_id.browse()
    if missing:
        user.company_ids = [Command.link(company.id) for company in missing]
