from . import main, webhook_cobr
