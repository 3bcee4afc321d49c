from django.apps import AppConfig


class AssessmentTemplatesConfig(AppConfig):
    name = "apps.assessment_templates"
    label = "assessment_templates"
    verbose_name = "Assessment templates"
