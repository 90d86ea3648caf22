from django.urls import path, re_path

from . import views, views_audit, views_create, views_ledger
from .views import ACTIONS
from .views_evidence import download as download_evidence
from .views_jobs import job_detail, job_download, job_retry
from .views_notifications import notification_list, notification_read
from .views_review import QUEUE_ACTIONS, bulk_assign, bulk_assign_submit, review, review_action

app_name = "ledger"

urlpatterns = [
    path("review/", review, name="review"),
    re_path(
        rf"^review/(?P<pk>[0-9]+)/(?P<action>{'|'.join(QUEUE_ACTIONS)})/$",
        review_action,
        name="review-action",
    ),
    path("review/assign/", bulk_assign, name="bulk-assign"),
    path("review/assign/submit/", bulk_assign_submit, name="bulk-assign-submit"),
    path("", views_ledger.home, name="home"),
    path("items/", views_ledger.item_list, name="items"),
    path("items/new/", views_create.item_new, name="item-new"),
    path("items/<id:pk>/", views.item_detail, name="item"),
    path("notifications/", notification_list, name="notifications"),
    path("notifications/read/", notification_read, name="notifications-read"),
    re_path(
        rf"^items/(?P<pk>[0-9]+)/(?P<action>{'|'.join(ACTIONS)})/$",
        views.item_action,
        name="item-action",
    ),
    path("evidence/<id:pk>/", download_evidence, name="evidence"),
    path("jobs/<id:pk>/", job_detail, name="job"),
    path("jobs/<id:pk>/download/", job_download, name="job-download"),
    path("jobs/<id:pk>/retry/", job_retry, name="job-retry"),
    path("audit/", views_audit.trail, name="audit"),
    path("audit/export/", views_audit.trail_export, name="audit-export"),
]
