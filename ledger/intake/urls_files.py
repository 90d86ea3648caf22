"""Rounds and their categories, import of feedback and ledgers, export of the ledger."""

from django.urls import path

from . import views_categories as categories
from . import views_files as v

urlpatterns: list = [
    path("", v.rounds, name="rounds"),
    path("rounds/new/", v.round_create, name="round-create"),
    path("rounds/<id:pk>/", v.round_detail, name="round"),
    path("rounds/<id:pk>/categories/add/", categories.add, name="category-add"),
    path(
        "rounds/<id:pk>/categories/<id:category_pk>/rename/",
        categories.rename,
        name="category-rename",
    ),
    path(
        "rounds/<id:pk>/categories/<id:category_pk>/move/",
        categories.move,
        name="category-move",
    ),
    path(
        "rounds/<id:pk>/categories/<id:category_pk>/delete/",
        categories.delete,
        name="category-delete",
    ),
    path("rounds/<id:pk>/feedback/", v.import_feedback, name="import-feedback"),
    path(
        "rounds/<id:pk>/feedback/names/",
        v.import_feedback_resolve,
        name="import-feedback-resolve",
    ),
    path(
        "rounds/<id:pk>/feedback/confirm/",
        v.import_feedback_confirm,
        name="import-feedback-confirm",
    ),
    path("rounds/<id:pk>/ledger/", v.import_ledger, name="import-ledger"),
    path("rounds/<id:pk>/ledger/names/", v.import_ledger_resolve, name="import-ledger-resolve"),
    path("rounds/<id:pk>/ledger/confirm/", v.import_ledger_confirm, name="import-ledger-confirm"),
    path("rounds/<id:pk>/export/", v.export_round, name="export-round"),
    path("export/", v.export_list, name="export"),
]
