from django.urls import path, re_path

from . import views
from .views import ACTIONS

app_name = "ledger"

urlpatterns = [
    path("", views.home, name="home"),
    path("items/", views.item_list, name="items"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    re_path(
        rf"^items/(?P<pk>[0-9]+)/(?P<action>{'|'.join(ACTIONS)})/$",
        views.item_action,
        name="item-action",
    ),
]
