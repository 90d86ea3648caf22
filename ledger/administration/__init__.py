"""Administration (系统管理): accounts and reference data, kept apart from the workflow.

The administrator (系统管理员) creates the office's people, departments and leaders, gives
out one-time passwords, and unlocks accounts; they see no item. Departments and leaders
are edited in Django's admin, configured here for this office; accounts, bulk set-up and
unlocking have pages in the app's own style. docs/administration.md says who may do what.
"""
