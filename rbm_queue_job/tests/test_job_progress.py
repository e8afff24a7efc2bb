"""A run's progress in the back office: per run (job function and day), its
jobs done, failed and pending, from queue_job's table."""

from datetime import date

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged

DAY = date(2026, 12, 15)


@tagged("post_install", "-at_install")
class TestJobProgress(HttpCase):
    def setUp(self):
        super().setUp()
        Jobs = self.env["rbm.job.run"]
        lines = self.env["account.move.line"]
        # three collection jobs and one card job on 15/12/2026
        with freeze_time(DAY):
            Jobs._enqueue(
                self.env["rbm.collection.run"],
                "_collection_job",
                [lines.browse([900001 + i]) for i in range(3)],
                DAY,
                lambda index, count, chunk: f"Collection test job {index}",
            )
            Jobs._enqueue(
                self.env["rbm.card.attempt"],
                "_card_job",
                [self.env["account.move"].browse([900001])],
                DAY,
                lambda index, count, chunk: f"Card test job {index}",
                args=("post",),
            )
        jobs = self.env["queue.job"].search([("name", "like", "test job")], order="id")
        self.assertEqual(len(jobs), 4)
        collection = jobs.filtered(lambda job: job.channel == "root.rbm.collection")
        self.assertEqual(len(collection), 3)
        collection[0].write({"state": "done", "retry": 2})
        collection[1].write({"state": "failed", "retry": 1})
        (jobs - collection).write({"state": "done", "retry": 1})
        self.env.flush_all()

    def _row(self, job_function):
        return self.env["rbm.job.progress"].search(
            [("job_function", "=", job_function), ("run_date", "=", DAY)]
        )

    def test_progress_counts_a_run_s_jobs_by_state(self):
        self.assertRecordValues(
            self._row("rbm.collection.run._collection_job"),
            [
                {
                    "channel": "root.rbm.collection",
                    "total": 3,
                    "done": 1,
                    "failed": 1,
                    "pending": 1,
                    "retried": 1,
                }
            ],
        )
        self.assertRecordValues(
            self._row("rbm.card.attempt._card_job"),
            [
                {
                    "channel": "root.rbm.card",
                    "total": 1,
                    "done": 1,
                    "failed": 0,
                    "pending": 0,
                    "retried": 0,
                }
            ],
        )

    def test_progress_is_for_job_queue_managers_only(self):
        clerk = self.env["res.users"].create(
            {
                "name": "Progress clerk",
                "login": "progress_clerk",
                "groups_id": [(6, 0, [self.env.ref("base.group_user").id])],
            }
        )
        with self.assertRaises(Exception) as refusal:
            self.env["rbm.job.progress"].with_user(clerk).search([])
        self.assertEqual(type(refusal.exception).__name__, "AccessError")

    def test_manager_follows_the_run_in_the_back_office(self):
        # the tour reads English labels
        self.env["res.lang"]._activate_lang("en_US")
        self.env.ref("base.user_admin").lang = "en_US"
        self.start_tour(
            "/odoo/action-rbm_recurring.rbm_contract_action", "rbm_job_progress_tour", login="admin"
        )
