"""Before the new fields exist: the end-of-commitment option set explicitly
from the former renewal checkbox, so existing plans and contracts keep their
behaviour (renew, or end with the commitment), and each movement keeps its
contract-level type before the types become the customer's."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("ALTER TABLE rbm_plan ADD COLUMN IF NOT EXISTS commitment_end_action varchar")
    cr.execute(
        """
        SELECT 1 FROM information_schema.columns
         WHERE table_name = 'rbm_plan' AND column_name = 'auto_renew'
        """
    )
    if cr.fetchone():
        cr.execute(
            """
            UPDATE rbm_plan
               SET commitment_end_action = CASE WHEN auto_renew THEN 'renew' ELSE 'end' END
             WHERE commitment_end_action IS NULL
            """
        )
    cr.execute(
        "UPDATE rbm_plan SET commitment_end_action = 'continue' WHERE commitment_end_action IS NULL"
    )
    cr.execute("ALTER TABLE rbm_contract ADD COLUMN IF NOT EXISTS commitment_end_action varchar")
    cr.execute(
        """
        UPDATE rbm_contract c
           SET commitment_end_action = p.commitment_end_action
          FROM rbm_plan p
         WHERE p.id = c.plan_id AND c.commitment_end_action IS NULL
        """
    )
    cr.execute("ALTER TABLE rbm_mrr_event ADD COLUMN IF NOT EXISTS contract_event_type varchar")
    cr.execute(
        "UPDATE rbm_mrr_event SET contract_event_type = event_type "
        "WHERE contract_event_type IS NULL"
    )
