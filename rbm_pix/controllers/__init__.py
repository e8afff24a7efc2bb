from . import main, portal, webhook_cobr, webhook_rec
