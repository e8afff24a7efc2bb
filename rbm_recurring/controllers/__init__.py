from . import kpi, portal
