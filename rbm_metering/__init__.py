from . import controllers, models, report, wizards


def uninstall_hook(env):
    """Drop the two plain tables of the usage retention (``rbm.usage.daily``): the
    archived keys of deleted events and the purge lock rows, which the ORM does not
    know."""
    env.cr.execute("DROP TABLE IF EXISTS rbm_usage_key_archive, rbm_usage_purge_lock")
