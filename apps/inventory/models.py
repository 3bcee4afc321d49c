from django.db import models
from django.db.models.functions import Lower


class Department(models.Model):
    """A unit of the client that owns AI assets and receives allocated cost (reports group by it)."""

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=40, help_text="Short code used in cost-allocation tags, e.g. claims-ops.")
    cost_center = models.CharField(max_length=60, blank=True, help_text="The client's own cost-center number.")
    owner_email = models.EmailField(blank=True, help_text="Who answers for this department's AI spend.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="department_name_unique_ci",
                violation_error_message="A department with this name already exists.",
            ),
            models.UniqueConstraint(
                fields=["code"],
                name="department_code_unique",
                violation_error_message="A department with this code already exists.",
            ),
        ]

    def __str__(self):
        return self.name
