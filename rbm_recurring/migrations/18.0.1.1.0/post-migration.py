"""The stored MRR movements typed by customer once (see
``rbm.mrr.event._reclassify_customer_events``); running it again changes
nothing."""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    changed = env["rbm.mrr.event"]._reclassify_customer_events()
    _logger.info("MRR movements typed by customer: %s changed", changed)
