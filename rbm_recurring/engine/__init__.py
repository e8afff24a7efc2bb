"""Plain-Python billing engine (no Odoo import): period math and proration."""
