"""Consolidation (归纳) of suggestions into items."""

from django.urls import path

from . import views_consolidation as v

urlpatterns: list = [
    path("rounds/<id:pk>/consolidate/", v.consolidate, name="consolidate"),
    path("rounds/<id:pk>/consolidate/confirm/", v.confirm, name="consolidate-confirm"),
    path("rounds/<id:pk>/consolidate/all/", v.confirm_all, name="consolidate-all"),
    path("rounds/<id:pk>/consolidate/merge/", v.merge, name="consolidate-merge"),
    path("rounds/<id:pk>/consolidate/split/", v.split, name="consolidate-split"),
    path("rounds/<id:pk>/consolidate/reset/", v.reset, name="consolidate-reset"),
    path(
        "rounds/<id:pk>/consolidate/threshold/",
        v.change_threshold,
        name="consolidate-threshold",
    ),
]
