"""The billing cron on queue_job: one job per chunk of due contracts, on the
channel root.rbm.billing, with an identity key per (chunk, day)."""

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import JobMixin, trap_jobs
from odoo.addons.rbm_recurring.tests.common import RbmBillingCase, d

TODAY = d("2026-11-02")


@tagged("post_install", "-at_install")
class TestBillingJobs(RbmBillingCase, JobMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        plan = cls._make_plan()
        partners = cls.env["res.partner"].create([{"name": f"Job customer {i}"} for i in range(5)])
        # five monthly contracts from 01/10/2026: October and November due on 02/11
        cls.contracts = cls.env["rbm.contract"]
        for partner in partners:
            cls.contracts |= cls._make_contract(plan, d("2026-10-01"), partner=partner)
        cls.Run = cls.env["rbm.billing.run"]

    def _due(self):
        return self.env["rbm.contract"].search(
            self.Run._get_domain(TODAY), order="next_invoice_date, id"
        )

    def _chunks(self, size):
        due = self._due()
        self.assertLessEqual(self.contracts, due)
        return [due[index : index + size] for index in range(0, len(due), size)]

    def _run_job(self, job_record):
        """Perform a stored job as queue_job's runner does (started, performed,
        done or failed), in the test's transaction."""
        job = Job.load(self.env, job_record.uuid)
        job.set_started()
        job.store()
        RunJobController._runjob(self.env, job)
        job_record.invalidate_recordset()

    def _job_of(self, jobs, contract):
        return jobs.filtered(lambda job: contract in job.args[0])

    def test_cron_enqueues_one_job_per_chunk_with_channel_and_identity_key(self):
        with freeze_time(TODAY), trap_jobs() as trap:
            result = self.Run._cron_billing_run(batch_size=2)
            chunks = self._chunks(2)
        trap.assert_jobs_count(len(chunks), only=self.Run._bill_job)
        for chunk in chunks:
            trap.assert_enqueued_job(
                self.Run._bill_job,
                args=(chunk, TODAY),
                properties={"identity_key": self.Run._bill_job_identity_key(chunk, TODAY)},
            )
        self.assertEqual({job.channel for job in trap.enqueued_jobs}, {"root.rbm.billing"})
        self.assertEqual(len({job.identity_key for job in trap.enqueued_jobs}), len(chunks))
        self.assertEqual((result["enqueued"], result["queued"]), (len(chunks), 0))
        # the cron itself billed nothing
        self.assertFalse(
            self.env["account.move"].search_count([("rbm_contract_id", "in", self.contracts.ids)])
        )

    def test_cron_started_twice_enqueues_nothing_twice(self):
        counter = self.job_counter()
        with freeze_time(TODAY):
            first = self.Run._cron_billing_run(batch_size=2)
            chunks = self._chunks(2)
            second = self.Run._cron_billing_run(batch_size=2)
        jobs = counter.search_created()
        self.assertEqual(len(jobs), len(chunks))
        self.assertEqual((first["enqueued"], first["queued"]), (len(chunks), 0))
        self.assertEqual((second["enqueued"], second["queued"]), (0, len(chunks)))
        self.assertEqual(set(jobs.mapped("channel")), {"root.rbm.billing"})
        self.assertEqual(set(jobs.mapped("state")), {"pending"})
        self.assertEqual(
            set(jobs.mapped("identity_key")),
            {self.Run._bill_job_identity_key(chunk, TODAY) for chunk in chunks},
        )
        # queue_job's own guard behind ours: the same chunk delayed again is the
        # job already waiting
        self.Run.with_delay(
            identity_key=self.Run._bill_job_identity_key(chunks[0], TODAY)
        )._bill_job(chunks[0], TODAY)
        self.assertEqual(counter.count_created(), len(chunks))

    def test_jobs_bill_every_due_period_exactly_once(self):
        counter = self.job_counter()
        with freeze_time(TODAY):
            self.Run._cron_billing_run(batch_size=2)
            jobs = counter.search_created()
            for job in jobs:
                self._run_job(job)
            self.assertEqual(set(jobs.mapped("state")), {"done"})
            # a job performed again (its worker died after committing) bills nothing
            Job.load(self.env, jobs[0].uuid).perform()
            again = self.Run._cron_billing_run(batch_size=2)
        for contract in self.contracts:
            self.assertEqual(
                self._periods(contract),
                [(d("2026-10-01"), d("2026-10-31")), (d("2026-11-01"), d("2026-11-30"))],
            )
            self.assertEqual(contract.next_period_start, d("2026-12-01"))
        self.assertFalse(again["contracts"] & self.contracts)
        self.assertIn("invoices", self._job_of(jobs, self.contracts[0]).result)

    def test_contract_failing_for_a_business_reason_does_not_fail_its_job(self):
        bad = self.contracts[1]
        # a credit bigger than the price: posting a negative invoice is refused
        bad.line_ids = [
            Command.create(
                {"product_id": self.product_seat.id, "quantity": 1, "price_unit": -500.0}
            )
        ]
        counter = self.job_counter()
        with freeze_time(TODAY):
            self.Run._cron_billing_run(batch_size=100)
            job = self._job_of(counter.search_created(), bad)
            self.assertLessEqual(self.contracts, job.args[0])
            self._run_job(job)
        self.assertEqual(job.state, "done")
        self.assertIn("1 failed", job.result)
        self.assertFalse(self._invoices(bad))
        self.assertIn("negative", bad.billing_error)
        self.assertEqual(bad.billing_error_date, TODAY)
        self.assertIn("could not invoice", bad.message_ids[0].body)
        for contract in self.contracts - bad:
            self.assertEqual(len(self._invoices(contract)), 2)
        # not tried again the same day: the next run leaves it out
        with freeze_time(TODAY), trap_jobs() as trap:
            result = self.Run._cron_billing_run(batch_size=100)
        self.assertNotIn(bad, result["contracts"])
        self.assertFalse(
            [job for job in trap.enqueued_jobs if bad in job.args[0]],
        )
