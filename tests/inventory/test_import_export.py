"""CSV import and export of the inventory: every error a person can make is explained per row and column,
nothing is written unless the whole file is right, 50,000 rows import in one go, export → import round-trips,
and the portal and API faces (with their permissions) work."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory import deprecation, transfer
from apps.inventory.models import (
    KIND_MODEL,
    Agent,
    AIModel,
    Asset,
    Endpoint,
    GuardrailFinding,
    Integration,
    KnowledgePipeline,
)
from apps.inventory.selectors import assets_list
from apps.inventory.services import asset_save, department_save, fields_for_kind
from apps.inventory.transfer import (
    COLUMNS,
    MAX_ROWS,
    NOT_UTF8,
    ImportRejected,
    assets_export_csv,
    import_commit,
    import_preview,
    template_csv,
)
from tests.conftest import auth_header, make_user

OWNER = "owner-io@msp.test"


@pytest.fixture
def owner(db):
    """An MSP admin: a valid owner in every client."""
    return make_user(OWNER, role=Role.MSP_ADMIN)


@pytest.fixture
def in_alpha_tenant(alpha):
    """Inside alpha with its real Client row (owner checks read the client's members)."""
    with tenant_context(alpha):
        yield alpha


def csv_bytes(rows: list[dict], columns: list[str] | None = None, *, encoding: str = "utf-8") -> bytes:
    columns = columns or sorted({key for row in rows for key in row}, key=lambda c: (c != "kind", c != "name", c))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue().encode(encoding)


def errors_of(preview) -> dict[tuple[int, str], str]:
    return {(e.row, e.column): e.message for e in preview.errors}


# --- each error a person can make ------------------------------------------------------------------------


def test_enums_take_value_or_label_and_explain_a_bad_one(in_alpha_tenant):
    data = csv_bytes(
        [
            {
                "kind": "agent",
                "name": "A",
                "lifecycle": "PRODUCTION",
                "risk_tier": "High risk",
                "annex_iii_area": "III.5",
            },
            {"kind": "Knowledge pipeline", "name": "B", "data_classification": "restricted"},
            {"kind": "agent", "name": "C", "risk_tier": "hihg"},
            {"kind": "robot", "name": "D"},
            {"kind": "agent", "name": "E", "approval_required_for": "move_money; fly"},
        ]
    )
    preview = import_preview(data)
    found = errors_of(preview)
    assert set(found) == {(4, "risk_tier"), (5, "kind"), (6, "approval_required_for")}
    assert "“hihg” is not a valid EU AI Act risk tier" in found[(4, "risk_tier")]
    assert "unassessed, prohibited, high, limited, minimal" in found[(4, "risk_tier")]
    assert "“robot” is not a kind of asset" in found[(5, "kind")]
    assert "“fly” is not a valid power" in found[(6, "approval_required_for")]
    assert preview.counts == {"agent": 3, "pipeline": 1} and not preview.ok


def test_unknown_owner_and_department(in_alpha_tenant, owner):
    department_save(name="Claims operations", code="claims-ops")
    data = csv_bytes(
        [
            {"kind": "agent", "name": "By code", "department": "CLAIMS-OPS", "owner_email": OWNER.upper()},
            {"kind": "agent", "name": "By name", "department": "claims operations"},
            {"kind": "agent", "name": "Stranger", "owner_email": "stranger@nowhere.test"},
            {"kind": "agent", "name": "Lost", "department": "Marketing"},
        ]
    )
    found = errors_of(import_preview(data))
    assert set(found) == {(4, "owner_email"), (5, "department")}
    assert "stranger@nowhere.test is not a member of this client" in found[(4, "owner_email")]
    assert "No department is named or coded “Marketing”" in found[(5, "department")]


def test_duplicates_in_the_file_and_of_registered_assets(in_alpha_tenant):
    asset_save(kind="integration", name="Salesforce", system_kind="crm")
    data = csv_bytes(
        [
            {"kind": "agent", "name": "Claims bot"},
            {"kind": "model", "name": "Claims bot", "provider": "openai", "model_id": "gpt-4o"},  # other kind: fine
            {"kind": "agent", "name": "CLAIMS BOT "},
            {"kind": "integration", "name": "salesforce"},
        ]
    )
    found = errors_of(import_preview(data))
    assert set(found) == {(4, "name"), (5, "name")}
    assert found[(4, "name")] == "Row 2 already has an agent named “CLAIMS BOT”."
    assert found[(5, "name")] == "An integration named “salesforce” is already registered."


@pytest.mark.parametrize(
    ("encoding", "hint"),
    [("latin-1", "line 2"), ("utf-16", "UTF-16"), ("cp1252", "line 2")],
)
def test_files_that_are_not_utf8_get_one_clear_error(in_alpha_tenant, encoding, hint):
    data = csv_bytes([{"kind": "agent", "name": "Équipe de tarification"}], encoding=encoding)
    preview = import_preview(data)
    assert len(preview.file_errors) == 1 and not preview.rows
    assert preview.file_errors[0].startswith(NOT_UTF8) and hint in preview.file_errors[0]


def test_utf8_with_or_without_bom_and_semicolons_are_read(in_alpha_tenant):
    rows = [{"kind": "agent", "name": "Équipe de tarification", "cost_tags": "app=pricing; team=risk"}]
    assert import_preview(csv_bytes(rows)).ok
    assert import_preview(csv_bytes(rows, encoding="utf-8-sig")).ok
    semicolons = "kind;name;purpose\r\nagent;Équipe;Prices, quotes and more\r\n".encode()
    preview = import_preview(semicolons)
    assert preview.ok and preview.rows[0].name == "Équipe"


def test_missing_unknown_and_repeated_columns(in_alpha_tenant):
    missing = import_preview(b"kind,purpose\r\nagent,Triage\r\n")
    assert missing.file_errors == ["Missing required column: name."]
    unknown = import_preview(b"kind,name,colour,Owner Email\r\nagent,A,blue,\r\n")
    assert len(unknown.file_errors) == 1 and unknown.file_errors[0].startswith("Unknown column: colour.")
    repeated = import_preview(b"kind,name,name\r\nagent,A,B\r\n")
    assert repeated.file_errors == ["These columns appear twice: name."]
    assert import_preview(b"").file_errors == ["The file is empty."]
    assert import_preview(b"kind,name\r\n").file_errors == ["The file has a header but no assets below it."]


def test_more_than_50000_rows_is_refused_before_validation(in_alpha_tenant):
    data = ("kind,name\r\n" + "".join(f"prompt,P{i}\r\n" for i in range(MAX_ROWS + 1))).encode()
    preview = import_preview(data)
    assert preview.file_errors == ["The file has more than 50,000 rows. Split it into files of at most 50,000 rows."]
    assert preview.rows == []


def test_files_over_20_mb_are_refused(in_alpha_tenant):
    preview = import_preview(b"kind,name\r\n" + b"x" * (20 * 1024 * 1024))
    assert preview.file_errors == ["The file is 20.0 MB; the limit is 20 MB. Split it into smaller files."]
    assert preview.rows == []


def test_cells_for_another_kind_bad_numbers_dates_and_required_fields(in_alpha_tenant):
    columns = ["kind", "name", "cost_tags", "spend_cap", "kill_switch_url", "provider", "deprecation_date"]
    columns += ["per_document_access_control", "last_refreshed_at"]
    data = csv_bytes(
        [
            {"kind": "integration", "name": "CRM", "spend_cap": "10"},
            {"kind": "agent", "name": "Cap", "spend_cap": "ten euros", "kill_switch_url": "not a url"},
            {"kind": "model", "name": "No id", "provider": "openai", "deprecation_date": "30/06/2026"},
            {"kind": "pipeline", "name": "P", "per_document_access_control": "maybe", "last_refreshed_at": "soon"},
            {"kind": "agent", "name": "", "cost_tags": "app"},
        ],
        columns,
    )
    data += b"agent,Long row" + b"," * (len(columns) - 1) + b"extra\r\n"
    found = errors_of(import_preview(data))
    assert found[(2, "spend_cap")] == "This column is for agents; leave it empty for an integration."
    assert "is not a number" in found[(3, "spend_cap")]
    assert "Enter a valid URL." in found[(3, "kill_switch_url")]
    assert found[(4, "model_id")] == "Required for a model."
    assert "YYYY-MM-DD" in found[(4, "deprecation_date")]
    assert "not yes or no" in found[(5, "per_document_access_control")]
    assert "not a date and time" in found[(5, "last_refreshed_at")]
    assert found[(6, "name")] == "Every asset needs a name."
    assert "key=value" in found[(6, "cost_tags")]
    assert "more cells than the header" in found[(7, "")]
    assert len(found) == 10


def test_high_risk_needs_its_annex_area_and_endpoints_name_a_known_model(in_alpha_tenant):
    data = csv_bytes(
        [
            {"kind": "agent", "name": "Scorer", "risk_tier": "high"},
            {"kind": "endpoint", "name": "Gateway", "model": "Claims LLM"},
            {"kind": "endpoint", "name": "Orphan", "model": "Nowhere LLM"},
            {"kind": "model", "name": "claims llm", "provider": "openai", "model_id": "gpt-4o"},
        ]
    )
    found = errors_of(import_preview(data))
    assert set(found) == {(2, "annex_iii_area"), (4, "model")}
    assert "No model named “Nowhere LLM”" in found[(4, "model")]


def test_nothing_is_written_when_any_row_is_bad(in_alpha_tenant):
    before_events = AuditEvent.objects.count()
    rows = [{"kind": "integration", "name": f"System {i}"} for i in range(200)]
    rows.append({"kind": "agent", "name": "Bad", "risk_tier": "extreme"})
    with pytest.raises(ImportRejected) as rejected:
        import_commit(csv_bytes(rows))
    assert rejected.value.preview.errors[0].row == 202
    assert "1 of 201 rows have errors; nothing was imported." in str(rejected.value)
    assert not Asset.objects.exists()
    assert AuditEvent.objects.count() == before_events


def test_a_name_taken_between_preview_and_write_rolls_everything_back(in_alpha_tenant, monkeypatch):
    asset_save(kind="integration", name="CRM")
    real_lookups = transfer._lookups

    def blind_lookups():  # as if someone registered "CRM" after the preview read the names
        lookups = real_lookups()
        lookups.existing = set()
        return lookups

    monkeypatch.setattr(transfer, "_lookups", blind_lookups)
    data = csv_bytes(
        [{"kind": "agent", "name": f"Agent {i}"} for i in range(50)] + [{"kind": "integration", "name": "crm"}]
    )
    with pytest.raises(ImportRejected) as rejected:
        import_commit(data)
    assert "Another change registered an asset with one of these names" in rejected.value.preview.file_errors[0]
    assert list(Asset.objects.values_list("name", flat=True)) == ["CRM"]
    assert not AuditEvent.objects.filter(action="inventory.import").exists()


# --- importing -----------------------------------------------------------------------------------------------


def test_import_writes_every_field_one_audit_event_and_runs_guardrails(in_alpha_tenant, owner, monkeypatch):
    department_save(name="Claims operations", code="claims-ops")
    existing = asset_save(kind="model", name="Registered LLM", provider="anthropic", model_id="claude")
    matched = []
    monkeypatch.setattr(deprecation, "model_catalog_match", lambda *, models: matched.extend(models) or 0)
    data = csv_bytes(
        [
            {
                "kind": "model",
                "name": "Claims LLM",
                "owner_email": OWNER,
                "department": "claims-ops",
                "provider": "openai",
                "model_id": "gpt-4o",
                "context_window": "128,000",
                "deprecation_date": "2030-06-30",
                "evaluation_results": "accuracy=0.94 (holdout 2026-Q3); f1=0.91",
                "cost_tags": "app=claims; team=ops",
                "open_weight": "no",
            },
            {
                "kind": "agent",
                "name": "Payout agent",
                "spend_cap_currency": "eur",
                "approval_required_for": "Delete data; move_money",
            },
            {"kind": "pipeline", "name": "Claims KB", "personal_data": "yes", "sources": "PDFs | s3://c/d; Wiki"},
            {"kind": "endpoint", "name": "Gateway", "model": "claims llm", "url": "https://gw.example/v1"},
            {"kind": "endpoint", "name": "Legacy gateway", "model": "REGISTERED LLM"},
            {
                "kind": "integration",
                "name": "CRM",
                "system_kind": "CRM",
                "direction": "Both ways",
                "health_checked_at": "2026-05-01 08:00",
            },
        ]
    )
    result = import_commit(data, filename="inventory.csv")
    assert result.created == 6 and result.counts == {
        "model": 1,
        "agent": 1,
        "pipeline": 1,
        "endpoint": 2,
        "integration": 1,
    }
    model = AIModel.objects.get(name="Claims LLM")
    assert model.department.code == "claims-ops" and model.owner_email == OWNER
    assert model.context_window == 128000 and model.deprecation_date == dt.date(2030, 6, 30)
    assert model.evaluation_results == [
        {"metric": "accuracy", "value": "0.94", "dataset": "holdout 2026-Q3"},
        {"metric": "f1", "value": "0.91"},
    ]
    assert model.cost_tags == {"app": "claims", "team": "ops"} and model.kind == "model"
    agent = Agent.objects.get(name="Payout agent")
    assert agent.spend_cap_currency == "EUR" and agent.approval_required_for == ["delete_data", "move_money"]
    pipeline = KnowledgePipeline.objects.get(name="Claims KB")
    assert pipeline.sources == [{"name": "PDFs", "location": "s3://c/d"}, {"name": "Wiki", "location": ""}]
    assert Endpoint.objects.get(name="Gateway").model_id == model.pk
    assert Endpoint.objects.get(name="Legacy gateway").model_id == existing.pk
    crm = Integration.objects.get(name="CRM")
    assert crm.direction == "bidirectional" and crm.health_checked_at == dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
    # The imported rows behave like any other asset: the list, the detail row, the default values.
    assert assets_list(kind="endpoint").count() == 2 and crm.lifecycle == "proposed" and crm.created_at
    # One audit event for the whole file.
    event = AuditEvent.objects.get(action="inventory.import")
    assert event.object_id == result.sha256 and event.after["rows"] == 6 and event.after["filename"] == "inventory.csv"
    assert event.after["counts"]["endpoint"] == 2
    assert (event.after["first_id"], event.after["last_id"]) == (result.first_id, result.last_id)
    assert (
        not AuditEvent.objects.filter(action__endswith=".create", object_type="inventory.asset")
        .exclude(object_id=str(existing.pk))
        .exists()
    )
    # Guardrails ran for the new assets; the catalog was asked about the new model.
    rules = set(GuardrailFinding.objects.filter(status="open").values_list("asset__name", "rule"))
    assert ("Payout agent", "agent-without-spend-cap") in rules
    assert ("Claims KB", "pipeline-personal-data-without-residency") in rules
    assert result.guardrails["opened"] == len(rules)
    assert [m.pk for m in matched] == [model.pk]


def test_50000_rows_import_in_one_go(in_alpha_tenant, monkeypatch):
    matched = []
    monkeypatch.setattr(deprecation, "model_catalog_match", lambda *, models: matched.extend(models) or 0)
    header = "kind,name,lifecycle,risk_tier,cost_tags,provider,model_id,spend_cap,kill_switch_url,model\r\n"
    makers = [
        lambda i: f"model,Model {i},production,minimal,app=a{i % 7},openai,gpt-{i},,,\r\n",
        lambda i: f"agent,Agent {i},pilot,limited,,,,25.00,https://kill.example/{i},\r\n",
        lambda i: f"prompt,Prompt {i},proposed,unassessed,,,,,,\r\n",
        lambda i: f"pipeline,Pipeline {i},proposed,minimal,,,,,,\r\n",
        lambda i: f"endpoint,Endpoint {i},production,minimal,,,,,,Model {i - 4}\r\n",
        lambda i: f"integration,System {i},production,minimal,,,,,,\r\n",
    ]
    lines = [makers[i % 6](i) for i in range(MAX_ROWS - 3)]
    lines += ["agent,Uncapped 1,,,,,,,,\r\n", "agent,Uncapped 2,,,,,,,https://kill.example/u,\r\n"]
    lines += ["model,Model last,,,,openai,gpt-last,,,\r\n"]
    data = (header + "".join(lines)).encode()
    assert len(lines) == MAX_ROWS

    result = import_commit(data)

    assert result.created == MAX_ROWS
    assert result.counts == {
        "model": 8334,
        "agent": 8335,
        "prompt": 8333,
        "pipeline": 8333,
        "endpoint": 8333,
        "integration": 8332,
    }
    assert Asset.objects.count() == MAX_ROWS
    for kind, model in KIND_MODEL.items():
        assert model.objects.count() == result.counts[kind]
    assert result.last_id - result.first_id + 1 == MAX_ROWS
    assert Endpoint.objects.filter(model__isnull=False).count() == 8333
    assert Endpoint.objects.get(name="Endpoint 10").model.name == "Model 6"
    assert AIModel.objects.get(name="Model 0").cost_tags == {"app": "a0"}
    assert AuditEvent.objects.filter(action="inventory.import").count() == 1
    open_findings = set(GuardrailFinding.objects.filter(status="open").values_list("asset__name", "rule"))
    assert open_findings == {
        ("Uncapped 1", "agent-without-spend-cap"),
        ("Uncapped 1", "agent-without-kill-switch"),
        ("Uncapped 2", "agent-without-spend-cap"),
    }
    assert len(matched) == 8334


# --- export and round trip -----------------------------------------------------------------------------------


def _register_everything():
    department = department_save(name="Claims operations", code="claims-ops")
    model = asset_save(
        kind="model",
        name="Claims LLM",
        owner_email=OWNER,
        department=department,
        purpose='Drafts replies, quotes "policy" text,\nand more',
        provider="openai",
        model_id="gpt-4o",
        model_version="2024-08-06",
        hosting="private_cloud",
        open_weight=True,
        licence="Proprietary",
        region="eu-west-1",
        context_window=128000,
        deprecation_date=dt.date(2031, 1, 31),
        task="text-generation",
        intended_use="Drafting",
        limitations="No legal advice",
        evaluation_results=[
            {"metric": "accuracy", "value": "0.94", "dataset": "holdout"},
            {"metric": "f1", "value": "0.9"},
        ],
        training_data_summary="Provider corpus",
        risk_tier="high",
        annex_iii_area="III.5",
        risk_rationale="Prices insurance",
        data_classification="confidential",
        personal_data=True,
        residency_region="eu-west-1",
        cost_tags={"app": "claims", "team": "ops"},
    )
    asset_save(
        kind="agent",
        name='=HYPERLINK("http://evil")',
        autonomy_level="supervised",
        spend_cap=Decimal("250.50"),
        spend_cap_currency="EUR",
        spend_cap_period="month",
        approval_required_for=["move_money", "delete_data"],
        kill_switch_url="https://agents.example/kill",
        lifecycle="pilot",
    )
    asset_save(kind="prompt", name="-triage prompt", lifecycle="retired")
    asset_save(
        kind="pipeline",
        name="Claims KB",
        sources=[{"name": "PDFs", "location": "s3://claims/docs"}, {"name": "Wiki", "location": ""}],
        vector_store="pgvector",
        embedding_model="text-embedding-3-large",
        refresh_schedule="nightly at 02:00",
        last_refreshed_at=dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC),
        per_document_access_control=True,
        residency_region="ca-central-1",
        personal_data=True,
    )
    asset_save(
        kind="endpoint", name="Gateway", environment="staging", url="https://gw.example/v1", model=model, region="eu"
    )
    asset_save(
        kind="integration",
        name="CRM",
        system_kind="crm",
        system_name="Salesforce",
        direction="outbound",
        health_status="degraded",
        health_checked_at=dt.datetime(2026, 5, 2, 9, 30, tzinfo=dt.UTC),
    )


def _export(**filters) -> str:
    return "".join(assets_export_csv(assets_list(**filters)))


def _stored(kind_model) -> list[dict]:
    rows = []
    for asset in kind_model.objects.order_by("name"):
        values = {}
        for name in fields_for_kind(asset.kind):
            value = getattr(asset, name)
            if name in ("department", "model"):
                value = value.name if value else None
            values[name] = value
        rows.append(values)
    return rows


def test_export_then_import_into_an_empty_client_round_trips(alpha, beta, owner):
    with tenant_context(alpha):
        _register_everything()
        exported = _export()
        expected = {kind: _stored(model) for kind, model in KIND_MODEL.items()}
    assert exported.splitlines()[0] == ",".join(COLUMNS)
    assert "'=HYPERLINK" in exported and "'-triage prompt" in exported  # spreadsheets will not run them
    with tenant_context(beta):
        assert not Asset.objects.exists()
        department_save(name="Claims operations", code="claims-ops")
        result = import_commit(exported.encode())
        assert result.created == 6
        assert {kind: _stored(model) for kind, model in KIND_MODEL.items()} == expected
        assert _export() == exported
    with tenant_context(alpha):
        assert Asset.objects.count() == 6  # nothing moved the other way


def test_export_respects_filters_and_never_shows_another_client(alpha, beta, owner):
    with tenant_context(beta):
        asset_save(kind="agent", name="Beta secret agent")
    with tenant_context(alpha):
        _register_everything()
        everything = _export()
        models_only = _export(kind="model")
        pilots = _export(lifecycle="pilot")
    assert "Beta secret agent" not in everything
    with tenant_context(alpha):
        later = assets_export_csv(assets_list())  # a streaming response is read after the view returns
    with tenant_context(beta):
        consumed_elsewhere = "".join(later)
    assert consumed_elsewhere == everything
    assert len(everything.splitlines()) > 7  # header + 6 assets (+ a purpose on two lines)
    assert "Claims LLM" in models_only and "Claims KB" not in models_only
    assert pilots.count("\r\n") == 2 and "HYPERLINK" in pilots


def test_template_is_importable(in_alpha_tenant):
    preview = import_preview(template_csv().encode())
    assert preview.ok, preview.errors
    assert preview.counts == {kind: 1 for kind in KIND_MODEL}


# --- portal --------------------------------------------------------------------------------------------------

BASE = "/c/alpha/inventory/"


@pytest.fixture
def engineer(alpha):
    return make_user("eng-import@msp.test", role=Role.ENGINEER, client=alpha)


def _upload(http, data: bytes, name="assets.csv"):
    return http.post(f"{BASE}import/", {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_portal_preview_then_commit(alpha, engineer, login_as):
    http = login_as(engineer)
    page = http.get(f"{BASE}import/").content.decode()
    assert "Import assets from a CSV file" in page and "approval_required_for" in page and "enctype" in page
    template = http.get(f"{BASE}import/template.csv")
    assert template.status_code == 200 and template["Content-Disposition"].startswith("attachment")

    data = csv_bytes([{"kind": "agent", "name": "Claims triage"}, {"kind": "integration", "name": "CRM"}])
    uploaded = _upload(http, data)
    assert uploaded.status_code == 302 and "/import/preview/?upload=" in uploaded["Location"]
    token = uploaded["Location"].split("upload=", 1)[1]
    preview = http.get(uploaded["Location"]).content.decode()
    assert "Import 2 assets" in preview and "Claims triage" in preview and "Nothing has been saved yet" in preview
    with tenant_context(alpha):
        assert not Asset.objects.exists()
        stored = default_storage.listdir("inventory-imports")[1]
        assert stored

    committed = http.post(f"{BASE}import/commit/", {"upload": token}, follow=True)
    page = committed.content.decode()
    assert committed.redirect_chain[-1][0].endswith(BASE) and "Imported 2 assets" in page
    with tenant_context(alpha):
        assert set(Asset.objects.values_list("name", flat=True)) == {"Claims triage", "CRM"}
        event = AuditEvent.objects.get(action="inventory.import")
        assert event.actor_email == engineer.email and event.after["filename"] == "assets.csv"
    # The file is gone: the same token cannot import twice.
    again = http.post(f"{BASE}import/commit/", {"upload": token}, follow=True)
    assert "expired or was already imported" in again.content.decode()
    with tenant_context(alpha):
        assert Asset.objects.count() == 2


def test_portal_commit_rechecks_the_file(alpha, engineer, login_as):
    http = login_as(engineer)
    uploaded = _upload(http, csv_bytes([{"kind": "agent", "name": "Claims triage"}, {"kind": "prompt", "name": "P"}]))
    token = uploaded["Location"].split("upload=", 1)[1]
    with tenant_context(alpha):
        asset_save(kind="agent", name="CLAIMS TRIAGE")  # registered by someone else meanwhile
    response = http.post(f"{BASE}import/commit/", {"upload": token})
    assert response.status_code == 409
    assert "An agent named “Claims triage” is already registered." in response.content.decode()
    with tenant_context(alpha):
        assert list(Asset.objects.values_list("name", flat=True)) == ["CLAIMS TRIAGE"]
    assert "expired" in http.get(uploaded["Location"], follow=True).content.decode()  # the file is gone


def test_portal_preview_highlights_errors_and_offers_no_import(alpha, engineer, login_as):
    http = login_as(engineer)
    before = (
        set(default_storage.listdir("inventory-imports")[1]) if default_storage.exists("inventory-imports") else set()
    )
    data = csv_bytes([{"kind": "agent", "name": "Fine"}, {"kind": "agent", "name": "Bad", "risk_tier": "hihg"}])
    response = _upload(http, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Rows with errors" in page and 'class="cell-error"' in page and "“hihg” is not a valid" in page
    assert "Import 2 assets" not in page and "import/commit" not in page
    assert re.search(r'<th scope="row" class="rownum">3</th>', page)
    after = (
        set(default_storage.listdir("inventory-imports")[1]) if default_storage.exists("inventory-imports") else set()
    )
    assert after == before  # a file with errors is never kept
    missing = _upload(http, b"kind,name\r\nmodel,No provider\r\n").content.decode()
    assert missing.count("Required for a model.") == 2 and ">model_id</th>" in missing and ">provider</th>" in missing
    latin = _upload(http, csv_bytes([{"kind": "agent", "name": "Équipe"}], encoding="latin-1")).content.decode()
    assert "The file is not UTF-8 text" in latin


def test_portal_rejects_tampered_or_foreign_tokens(alpha, beta, engineer, login_as):
    http = login_as(engineer)
    uploaded = _upload(http, csv_bytes([{"kind": "agent", "name": "Claims triage"}]))
    token = uploaded["Location"].split("upload=", 1)[1]
    assert "expired" in http.post(f"{BASE}import/commit/", {"upload": token + "x"}, follow=True).content.decode()
    other = login_as(make_user("eng-both@msp.test", role=Role.ENGINEER, client=beta))
    foreign = other.post("/c/beta/inventory/import/commit/", {"upload": token}, follow=True)
    assert "expired" in foreign.content.decode()
    with tenant_context(beta):
        assert not Asset.objects.exists()


def test_oversized_uploads_are_refused_before_reading(alpha, engineer, login_as, api_key_for, client, monkeypatch):
    from apps.inventory import views_transfer
    from apps.inventory.api import transfer as api_transfer

    monkeypatch.setattr(views_transfer, "MAX_BYTES", 10)
    monkeypatch.setattr(api_transfer, "MAX_BYTES", 10)
    page = _upload(login_as(engineer), b"kind,name\r\nagent,Too big\r\n").content.decode()
    assert "The file is larger than" in page
    _, writer = api_key_for(alpha, ["read", "write"])
    response = _post_file(client, writer, b"kind,name\r\nagent,Too big\r\n")
    assert response.status_code == 400 and "larger than" in response.json()["file_errors"][0]
    with tenant_context(alpha):
        assert not Asset.objects.exists()


def test_client_executive_exports_but_cannot_import(alpha, login_as):
    executive = login_as(make_user("cfo-import@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha))
    assert executive.get(f"{BASE}import/").status_code == 403
    assert (
        executive.post(f"{BASE}import/", {"file": SimpleUploadedFile("a.csv", b"kind,name\r\nagent,A\r\n")}).status_code
        == 403
    )
    assert executive.post(f"{BASE}import/commit/", {"upload": "x"}).status_code == 403
    assert executive.get(f"{BASE}import/template.csv").status_code == 403
    with tenant_context(alpha):
        asset_save(kind="agent", name="Pricing agent")
        asset_save(kind="integration", name="ERP")
    export = executive.get(f"{BASE}export.csv", {"kind": "agent", "department": "not-a-number"})
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert export["Content-Disposition"].startswith('attachment; filename="alpha-ai-inventory-')
    body = b"".join(export.streaming_content).decode("utf-8")
    assert body.startswith("\ufeffkind,name,") and "Pricing agent" in body and "ERP" not in body
    bom = executive.get(f"{BASE}ai-bom.json")
    assert bom.status_code == 200 and bom["Content-Disposition"] == 'attachment; filename="ai-bom.json"'


# --- API -----------------------------------------------------------------------------------------------------

API = "/c/alpha/api/v1/"


def _post_file(client, secret, data: bytes, query=""):
    return client.post(
        f"{API}inventory/import/{query}",
        {"file": SimpleUploadedFile("assets.csv", data, content_type="text/csv")},
        **auth_header(secret),
    )


def test_api_dry_run_commit_and_errors(alpha, api_key_for, client):
    _, writer = api_key_for(alpha, ["read", "write"])
    data = csv_bytes(
        [{"kind": "agent", "name": "Claims triage"}, {"kind": "model", "name": "LLM", "provider": "x", "model_id": "y"}]
    )
    dry = _post_file(client, writer, data, "?dry_run=true")
    assert dry.status_code == 200
    assert dry.json() | {"sha256": ""} == {
        "ok": True,
        "sha256": "",
        "rows": 2,
        "counts": {"model": 1, "agent": 1},
        "rows_with_errors": 0,
        "file_errors": [],
        "error_count": 0,
        "errors": [],
    }
    with tenant_context(alpha):
        assert not Asset.objects.exists()
    created = _post_file(client, writer, data)
    assert created.status_code == 201 and created.json()["created"] == 2
    again = _post_file(client, writer, data)
    assert again.status_code == 400 and again["Content-Type"] == "application/problem+json"
    body = again.json()
    assert body["title"] == "Import rejected" and body["rows_with_errors"] == 2
    assert {(e["row"], e["column"]) for e in body["errors"]} == {(2, "name"), (3, "name")}
    bad_dry = _post_file(client, writer, b"\xff\xfek\x00", "?dry_run=1")
    assert bad_dry.status_code == 200 and bad_dry.json()["ok"] is False and "UTF-8" in bad_dry.json()["file_errors"][0]
    with tenant_context(alpha):
        assert Asset.objects.count() == 2
        assert AuditEvent.objects.get(action="inventory.import").actor_api_key


def test_api_permissions_export_and_isolation(alpha, beta, api_key_for, client):
    _, reader = api_key_for(alpha, ["read"])
    _, beta_writer = api_key_for(beta, ["read", "write"])
    data = csv_bytes([{"kind": "agent", "name": "Sneaky"}])
    assert _post_file(client, reader, data).status_code == 403
    assert _post_file(client, beta_writer, data).status_code == 404
    assert (
        client.post(f"{API}inventory/import/", {}, **auth_header(api_key_for(alpha, ["write"])[1])).status_code == 400
    )
    with tenant_context(alpha):
        asset_save(kind="agent", name="Alpha agent")
    with tenant_context(beta):
        asset_save(kind="agent", name="Beta agent")
    export = client.get(f"{API}inventory/export.csv", **auth_header(reader))
    assert export.status_code == 200 and export["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(export.streaming_content).decode()
    assert "Alpha agent" in body and "Beta agent" not in body and not body.startswith("\ufeff")
    accepted = client.get(f"{API}inventory/export.csv", HTTP_ACCEPT="text/csv", **auth_header(reader))
    assert accepted.status_code == 200
    assert client.get(f"{API}inventory/export.csv", **auth_header(beta_writer)).status_code == 404
    with tenant_context(alpha):
        assert not Asset.objects.filter(name="Sneaky").exists()
