"""Supervision and evaluation (督办考评): the working-day calendar, the escalation ladder,
phone review, department scores and the group robots. docs/supervision.md describes them."""
