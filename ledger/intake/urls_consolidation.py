"""Consolidation (归纳) of suggestions into items."""

urlpatterns: list = []
