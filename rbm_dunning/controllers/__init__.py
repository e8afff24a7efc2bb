from . import portal, portal_card
