from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from ..models import Department
from ..services import DEPARTMENT_FIELDS, department_delete, department_save


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", *DEPARTMENT_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        # Uniqueness (case-insensitive names) is checked by the service, which answers 400 with the field.
        validators = []
        extra_kwargs = {"code": {"validators": []}}


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "Claims operations",
                value={
                    "name": "Claims operations",
                    "code": "claims-ops",
                    "cost_center": "CC-4100",
                    "owner_email": "ops.lead@harbor.example",
                },
            )
        ]
    ),
)
class DepartmentViewSet(viewsets.ModelViewSet):
    """Departments of this client: who owns AI assets and receives allocated cost."""

    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    filterset_fields = ["code"]

    def perform_create(self, serializer):
        serializer.instance = department_save(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = department_save(department=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        department_delete(department=instance)
