from django.urls import path

from . import views_dashboard, views_ladder, views_print, views_reviews, views_scores

app_name = "supervision"

# Each part of supervision adds its pages here (docs/supervision.md).
urlpatterns: list = [
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("print/", views_print.print_ledger, name="print"),
    path("reviews/", views_reviews.review_list, name="reviews"),
    path("reviews/import/", views_reviews.review_import, name="review-import"),
    path("reviews/import/confirm/", views_reviews.review_confirm, name="review-confirm"),
    path("ladder/", views_ladder.ladder_page, name="ladder"),
    path("ladder/decide/", views_ladder.ladder_decide, name="ladder-decide"),
    path("ladder/settings/", views_ladder.ladder_settings, name="ladder-settings"),
    path("notices/", views_ladder.notice_list, name="notices"),
    path("notices/<id:pk>/", views_ladder.notice_detail, name="notice"),
    path("notices/<id:pk>/pdf/", views_ladder.notice_pdf, name="notice-pdf"),
    path("scores/", views_scores.score_table, name="scores"),
    path("scores/export/", views_scores.score_table_export, name="scores-export"),
    path("scores/report/", views_scores.score_table_report, name="scores-report"),
    path("scores/publish/", views_scores.score_publish, name="scores-publish"),
    path("scores/weights/", views_scores.score_weights, name="score-weights"),
    path("scores/published/", views_scores.score_sheets, name="score-sheets"),
    path("scores/published/<id:pk>/", views_scores.score_sheet, name="score-sheet"),
    path(
        "scores/published/<id:pk>/export/",
        views_scores.score_sheet_export,
        name="score-sheet-export",
    ),
    path(
        "scores/published/<id:pk>/report/",
        views_scores.score_sheet_report,
        name="score-sheet-report",
    ),
]
