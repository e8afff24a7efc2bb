from . import (
    portal,
    portal_overdue,
)
