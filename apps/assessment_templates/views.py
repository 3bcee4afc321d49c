"""Assessment template library and portfolio maturity for MSP staff (public site, /assessments/). Reading needs
`console`; copying, adapting and uploading templates needs `manage_library` (account managers and admins)."""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.context import actor_label
from apps.core.permissions import capability_required

from .library import (
    MAX_FILE_BYTES,
    TemplateLoadError,
    document_yaml,
    parse_template_text,
    template_copy,
    template_revise,
    template_upload_store,
)
from .models import Template, TemplateVersion


def _template_or_404(key: str) -> Template:
    template = Template.objects.select_related("current", "copied_from__template").filter(key=key).first()
    if template is None or template.current is None:
        raise Http404("No such template.")
    return template


def _version(template: Template, asked: str) -> TemplateVersion:
    if asked.isdigit():
        version = template.versions.filter(version=int(asked)).first()
        if version is not None:
            return version
    return template.current


def _errors(request, exc: TemplateLoadError) -> None:
    for line in str(exc).splitlines()[:20]:
        messages.error(request, line)


@capability_required(Cap.CONSOLE)
def template_list(request):
    templates = list(Template.objects.exclude(current=None).select_related("current", "copied_from__template"))
    return render(
        request,
        "assessment_templates/list.html",
        {
            "templates": templates,
            "can_manage": request.access.can(Cap.MANAGE_LIBRARY),
            "max_mb": MAX_FILE_BYTES // 2**20,
        },
    )


@capability_required(Cap.CONSOLE)
def template_detail(request, key):
    template = _template_or_404(key)
    version = _version(template, request.GET.get("version", ""))
    dimensions = list(version.dimensions.all())
    questions = list(version.questions.all())
    for dimension in dimensions:
        dimension.question_list = [q for q in questions if q.dimension_id == dimension.pk]
    return render(
        request,
        "assessment_templates/detail.html",
        {
            "template": template,
            "version": version,
            "versions": list(template.versions.all()),
            "dimensions": dimensions,
            "targets": (version.target_profile or {}).get("levels", {}),
            "can_manage": request.access.can(Cap.MANAGE_LIBRARY),
            "hard_count": sum(1 for q in questions if q.hard_question),
            "signal_count": sum(1 for q in questions if q.signal),
        },
    )


@capability_required(Cap.CONSOLE)
def template_download(request, key):
    template = _template_or_404(key)
    version = _version(template, request.GET.get("version", ""))
    response = HttpResponse(document_yaml(version), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{template.key}-v{version.version}.yaml"'
    return response


@require_POST
@capability_required(Cap.MANAGE_LIBRARY)
def template_copy_view(request, key):
    template = _template_or_404(key)
    name = request.POST.get("name", "").strip()[:200] or f"{template.name} (adapted)"
    new_key = slugify(request.POST.get("key", "") or name)[:60].strip("-")
    if not new_key:
        messages.error(request, "Give the copy a key (letters, digits and dashes).")
        return redirect("assessment_templates:detail", key=key)
    try:
        result = template_copy(template.current, key=new_key, name=name, by=actor_label())
    except TemplateLoadError as exc:
        _errors(request, exc)
        return redirect("assessment_templates:detail", key=key)
    messages.success(request, f"Copied as “{result.template.name}”: adapt its weights and texts.")
    return redirect("assessment_templates:edit", key=result.template.key)


@require_POST
@capability_required(Cap.MANAGE_LIBRARY)
def template_upload(request):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a template file (YAML) to upload.")
        return redirect("assessment_templates:list")
    if upload.size > MAX_FILE_BYTES:
        messages.error(request, f"{upload.name}: larger than {MAX_FILE_BYTES // 2**20} MB.")
        return redirect("assessment_templates:list")
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        messages.error(request, f"{upload.name}: is not UTF-8 text.")
        return redirect("assessment_templates:list")
    try:
        parsed = parse_template_text(text, file=upload.name[:120])
        result = template_upload_store(parsed, by=actor_label())
    except TemplateLoadError as exc:
        _errors(request, exc)
        return redirect("assessment_templates:list")
    if result.created:
        messages.success(request, f"Loaded {result.template.name} version {result.version.version}.")
    else:
        messages.info(
            request, f"{result.template.name} version {result.version.version} is already loaded: nothing changed."
        )
    return redirect("assessment_templates:detail", key=result.template.key)


def _number(value: str, default):
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return default
    return int(number) if number == number.to_integral_value() else float(number)


@capability_required(Cap.MANAGE_LIBRARY)
def template_edit(request, key):
    """Adapt weights and texts; saving makes the next version (assessments keep theirs)."""
    template = _template_or_404(key)
    if template.origin == Template.Origin.BUNDLED:
        messages.error(request, f"{template.name} ships with Keel: copy it to adapt it.")
        return redirect("assessment_templates:detail", key=key)
    version = template.current
    document = copy.deepcopy(version.document)
    if request.method == "POST":
        document["name"] = request.POST.get("name", document["name"]).strip() or document["name"]
        description = request.POST.get("description", document.get("description", "")).strip()
        if description != document.get("description", ""):  # optional keys the file left out stay out
            document["description"] = description
        for d, dimension in enumerate(document["dimensions"]):
            prefix = f"d{d}-"
            dimension["name"] = request.POST.get(prefix + "name", dimension["name"]).strip() or dimension["name"]
            dimension["weight"] = _number(request.POST.get(prefix + "weight", ""), dimension["weight"])
            for field in ("legacy", "modern"):
                value = request.POST.get(prefix + field, dimension.get(field, "")).strip()
                if value != dimension.get(field, ""):
                    dimension[field] = value
            target = request.POST.get(prefix + "target", "")
            levels = (document.get("target_profile") or {}).get("levels", {})
            if target.isdigit() and levels.get(dimension["ref"]) != int(target):
                document.setdefault("target_profile", {"name": "Target profile", "levels": {}})
                document["target_profile"].setdefault("levels", {})[dimension["ref"]] = int(target)
            for q, question in enumerate(dimension["questions"]):
                qprefix = f"{prefix}q{q}-"
                question["text"] = request.POST.get(qprefix + "text", question["text"]).strip() or question["text"]
                weight = _number(request.POST.get(qprefix + "weight", ""), question.get("weight", 1))
                if weight != question.get("weight", 1):  # a weight the file left out stays out (default 1)
                    question["weight"] = weight
        try:
            result = template_revise(template, document, by=actor_label(), source=f"portal edit by {actor_label()}")
        except TemplateLoadError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"Saved as version {result.version.version}.")
            return redirect("assessment_templates:detail", key=key)
    return render(
        request,
        "assessment_templates/edit.html",
        {
            "template": template,
            "version": version,
            "document": document,
            "targets": (document.get("target_profile") or {}).get("levels", {}),
            "levels": version.levels,
        },
    )


@capability_required(Cap.CONSOLE)
def portfolio_maturity(request):
    from apps.accounts.access import clients_for_user
    from apps.assessments.selectors import portfolio_maturity as rows

    clients = rows(clients=clients_for_user(request.user))
    dimension_names = []
    for client in clients:
        if client.maturity_row:
            dimension_names = [(d["ref"], d["name"]) for d in client.maturity_row.dimensions]
            break
    for client in clients:
        by_ref = {d["ref"]: d for d in (client.maturity_row.dimensions if client.maturity_row else [])}
        client.cells = [by_ref.get(ref) for ref, _ in dimension_names]
    return render(
        request,
        "assessment_templates/portfolio.html",
        {"clients": clients, "dimension_names": dimension_names},
    )
