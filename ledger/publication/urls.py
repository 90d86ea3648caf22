"""Notices (公示): composing and publishing (signed in), and the public pages."""

from django.urls import path

from . import views_compose as compose
from . import views_public as public
from .feeds import NoticeFeed

app_name = "publication"

urlpatterns = [
    # Public, no sign-in.
    path("", public.notice_index, name="index"),
    path("feed/", NoticeFeed(), name="feed"),
    path("<id:pk>/", public.notice_page, name="public"),
    path("<id:pk>/annex/<id:number>/", public.annex_page, name="annex"),
    path("<id:pk>/pdf/", public.notice_pdf, name="pdf"),
    path("<id:pk>/xlsx/", public.notice_xlsx, name="xlsx"),
    # Supervisors.
    path("manage/", compose.notice_list, name="manage"),
    path("manage/new/", compose.notice_create, name="create"),
    path("manage/<id:pk>/", compose.notice_edit, name="edit"),
    path("manage/<id:pk>/delete/", compose.notice_delete, name="delete"),
    path("manage/<id:pk>/preview/", compose.notice_preview, name="preview"),
    path("manage/<id:pk>/mask/", compose.notice_mask, name="mask"),
    path("manage/<id:pk>/publish/", compose.notice_publish, name="publish"),
    path("manage/<id:pk>/new-version/", compose.notice_new_version, name="new-version"),
    path("manage/<id:pk>/sections/new/", compose.section_add, name="section-add"),
    path("manage/<id:pk>/sections/<id:section_pk>/", compose.section_edit, name="section-edit"),
    path(
        "manage/<id:pk>/sections/<id:section_pk>/delete/",
        compose.section_delete,
        name="section-delete",
    ),
    path(
        "manage/<id:pk>/sections/<id:section_pk>/move/",
        compose.section_move,
        name="section-move",
    ),
]
