from . import (
    portal,
    portal_card,
    portal_document,
    portal_overdue,
)
