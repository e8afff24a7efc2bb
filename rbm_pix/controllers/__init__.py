from . import main, portal, webhook_rec
from . import main, webhook_cobr
