"""API routes of allocation rules, included by apps.finops.api.urls."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .allocation import AllocationRuleViewSet, AllocationStatusView

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("allocation-rules", AllocationRuleViewSet, basename="allocation-rule")

urlpatterns = [
    re_path(r"^allocation-status/?$", AllocationStatusView.as_view(), name="allocation-status"),
    *router.urls,
]
