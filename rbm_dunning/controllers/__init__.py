from . import (
    portal,
    portal_card,
    portal_overdue,
)
