"""Notices (公示): composing and publishing (signed in), and the public pages."""

app_name = "publication"

urlpatterns: list = []
