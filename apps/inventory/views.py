from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required

from .forms import DepartmentForm
from .models import Department
from .selectors import departments_list
from .services import department_delete, department_save


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@capability_required(Cap.VIEW)
def department_list(request):
    query = request.GET.get("query", "").strip()
    return render(request, "inventory/departments.html", {"departments": departments_list(query=query), "query": query})


@capability_required(Cap.EDIT)
def department_edit(request, pk=None):
    department = get_object_or_404(Department, pk=pk) if pk else None
    form = DepartmentForm(request.POST or None, instance=department)
    if request.method == "POST" and form.is_valid():
        try:
            saved = department_save(department=department, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Department {saved.name} saved.")
            return redirect("inventory:departments")
    return render(request, "inventory/department_form.html", {"form": form, "department": department})


@require_POST
@capability_required(Cap.EDIT)
def department_remove(request, pk):
    department = get_object_or_404(Department, pk=pk)
    department_delete(department=department)
    messages.success(request, f"Department {department.name} removed.")
    return redirect("inventory:departments")
