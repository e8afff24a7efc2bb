from . import main, portal, webhook_rec
