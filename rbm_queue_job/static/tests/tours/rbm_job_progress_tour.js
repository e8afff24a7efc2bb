import { registry } from "@web/core/registry";
import { openMenu } from "@rbm_recurring/../tests/tours/rbm_tour_utils";

/**
 * The billing manager follows a run on the job queue: Billing > Run
 * Progress lists the day's collection run with its jobs done, failed and
 * pending; the run's jobs open from Billing > Run Jobs. The Python test
 * prepared the jobs.
 */

registry.category("web_tour.tours").add("rbm_job_progress_tour", {
    url: "/odoo/action-rbm_recurring.rbm_contract_action",
    steps: () => [
        ...openMenu("Billing", "Run Progress"),
        {
            content: "The collection run of 15/12/2026: 3 jobs, 1 done, 1 failed, 1 pending",
            trigger:
                ".o_data_row:has(td[name=job_function]:contains(Collection))" +
                ":has(td[name=run_date]:contains(12/15/2026))" +
                ":has(td[name=total]:contains(3)):has(td[name=done]:contains(1))" +
                ":has(td[name=failed]:contains(1)):has(td[name=pending]:contains(1))",
        },
        {
            content: "Only the runs with failures",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            trigger: ".o_filter_menu .dropdown-item:contains(With Failures)",
            run: "click",
        },
        {
            content: "The collection run is listed, the card charges run (no failure) is not",
            trigger:
                ".o_list_view:not(:has(td[name=job_function]:contains(Card charges)))" +
                " .o_data_row td[name=job_function]:contains(Collection)",
        },
        ...openMenu("Billing", "Run Jobs"),
        {
            content: "The failed collection job is listed among the run jobs",
            trigger: ".o_list_view .o_data_row:contains(Collection test job 2)",
        },
    ],
});
