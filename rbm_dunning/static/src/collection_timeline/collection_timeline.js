/** @odoo-module **/
// The collection policy's steps drawn along the days around the due date.

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

// the axis always shows at least D-5 … D+30, widened to the policy's steps
const AXIS_START = -5;
const AXIS_END = 30;
const TICK_EVERY = 5;
// markers closer than this (% of the axis) go to another lane
const MIN_GAP = 13;

// marker colour of each action (bootstrap contextual colours)
const ACTION_TONES = {
    email: "info",
    sms: "info",
    activity: "secondary",
    card: "primary",
    webhook: "secondary",
    suspend: "warning",
    protest: "warning",
    cancel: "danger",
};

export function dayLabel(day) {
    if (day > 0) {
        return `D+${day}`;
    }
    return day < 0 ? `D${day}` : "D0";
}

export class RbmCollectionTimeline extends Component {
    static template = "rbm_dunning.CollectionTimeline";
    static props = { ...standardFieldProps };

    get list() {
        return this.props.record.data[this.props.name];
    }

    get actionLabels() {
        const selection = this.list.fields.action?.selection || [];
        return Object.fromEntries(selection);
    }

    /** The steps with a day, in the order of their days (then of the list). */
    get steps() {
        const labels = this.actionLabels;
        const steps = this.list.records
            .map((record, index) => ({
                record,
                index,
                day: record.data.day_offset,
                action: record.data.action,
            }))
            .filter((step) => Number.isInteger(step.day));
        steps.sort((a, b) => a.day - b.day || a.index - b.index);
        return steps.map((step) => ({
            id: step.record.id,
            day: step.day,
            dayLabel: dayLabel(step.day),
            action: step.action || "",
            actionLabel: labels[step.action] || step.action || "",
            name: step.record.data.name || "",
            active: step.record.data.active !== false,
            tone: ACTION_TONES[step.action] || "secondary",
        }));
    }

    get range() {
        const days = this.steps.map((step) => step.day);
        return {
            start: Math.min(AXIS_START, ...days),
            end: Math.max(AXIS_END, ...days),
        };
    }

    position(day) {
        const { start, end } = this.range;
        return ((day - start) / (end - start)) * 100;
    }

    /**
     * Each step at its day, in the first lane (row above the axis) where it
     * does not overlap the marker before it; steps of one day stack.
     */
    get placedSteps() {
        const lastLeft = [];
        return this.steps.map((step) => {
            const left = this.position(step.day);
            let lane = 0;
            while (lane < lastLeft.length && left - lastLeft[lane] < MIN_GAP) {
                lane++;
            }
            lastLeft[lane] = left;
            return { ...step, left, lane };
        });
    }

    get laneCount() {
        return Math.max(1, ...this.placedSteps.map((step) => step.lane + 1));
    }

    /** The days holding a step: a dot on the axis. */
    get stepDays() {
        return [...new Set(this.steps.map((step) => step.day))].map((day) => ({
            day,
            left: this.position(day),
        }));
    }

    get ticks() {
        const { start, end } = this.range;
        const ticks = [];
        const first = Math.ceil(start / TICK_EVERY) * TICK_EVERY;
        for (let day = first; day <= end; day += TICK_EVERY) {
            ticks.push({ day, label: dayLabel(day), left: this.position(day) });
        }
        for (const day of [start, end]) {
            if (day % TICK_EVERY) {
                ticks.push({ day, label: dayLabel(day), left: this.position(day) });
            }
        }
        return ticks.sort((a, b) => a.day - b.day);
    }

    get dueDateLeft() {
        return this.position(0);
    }

    get dueDateLabel() {
        return _t("Due date");
    }

    get emptyText() {
        return _t("No step yet: add the policy's steps below, each at its day from the due date.");
    }

    stepTitle(step) {
        const parts = [step.dayLabel, step.actionLabel];
        if (step.name) {
            parts.push(step.name);
        }
        if (!step.active) {
            parts.push(_t("(inactive)"));
        }
        return parts.join(" · ");
    }
}

export const rbmCollectionTimeline = {
    component: RbmCollectionTimeline,
    displayName: _t("Collection timeline"),
    supportedTypes: ["one2many"],
    relatedFields: [
        { name: "day_offset", type: "integer" },
        { name: "action", type: "selection" },
        { name: "name", type: "char" },
        { name: "active", type: "boolean" },
    ],
};

registry.category("fields").add("rbm_collection_timeline", rbmCollectionTimeline);
