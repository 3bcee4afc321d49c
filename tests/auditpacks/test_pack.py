"""The pack itself: layout and contents built from the real register, the round trip verifying clean, and each
kind of tampering named by the verifier (an evidence file changed, a file removed or added, manifest.json
edited, one audit-trail line edited); a stored evidence file altered before packing is listed as
integrity_failed and not shipped; the verifier runs without Django (a subprocess with a clean environment)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.auditpacks.models import AuditPack
from apps.auditpacks.signing import signing_key
from apps.auditpacks.verify import grouped, verify_pack
from apps.compliance.models import EvidenceRevision

from .conftest import CSV_BODY, PDF, members, pack_bytes, rewrite

REPO = Path(__file__).resolve().parents[2]
FIXED_FILES = {
    "README.txt",
    "readiness.json",
    "readiness.pdf",
    "matrix.csv",
    "incidents.json",
    "incidents.csv",
    "audit-trail.jsonl",
    "audit-trail-verification.json",
}


def problems_of(data: bytes, **kwargs) -> list[str]:
    return [str(p) for p in verify_pack(io.BytesIO(data), **kwargs).problems]


@pytest.fixture
def built(pack_factory):
    pack = pack_factory()
    assert pack.status == AuditPack.Status.READY, pack.error
    data = pack_bytes(pack)
    return pack, data, members(data)


def evidence_path(files: dict, evidence) -> str:
    [path] = [p for p in files if p.startswith(f"evidence/{evidence.pk}-")]
    return path


def test_layout_manifest_and_evidence_bytes(built, register):
    pack, data, files = built
    policy, export = register["policy"], register["export"]
    assert pack.sha256 == hashlib.sha256(data).hexdigest() and pack.size == len(data)
    assert pack.file.name.startswith("audit-packs/c_alpha/")
    evidence_files = {p for p in files if p.startswith("evidence/")}
    assert set(files) == FIXED_FILES | evidence_files | {"manifest.json", "signature.json"}
    # approved files of both frameworks; the draft is not shipped
    assert evidence_files == {
        f"evidence/{policy.pk}-1-Logging_policy__v2.pdf",
        f"evidence/{export.pk}-1-retention.csv",
        f"evidence/{register['backup'].pk}-1-backup-test.pdf",
    }
    assert files[f"evidence/{policy.pk}-1-Logging_policy__v2.pdf"] == PDF
    assert files[f"evidence/{export.pk}-1-retention.csv"] == CSV_BODY
    assert list(files)[-2:] == ["manifest.json", "signature.json"]

    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "keel-audit-pack/1"
    assert manifest["client"] == {
        "name": "Alpha Corp",
        "slug": "alpha",
        "schema": "c_alpha",
        "time_zone": "Europe/Paris",
    }
    assert manifest["generated_at"].endswith("Z") and manifest["generated_by"] == "am@msp.test"
    assert manifest["period"]["from"] == "2026-10-21" and manifest["period"]["to"] == "2026-11-20"
    assert manifest["period"]["start_utc"] == "2026-10-20T22:00:00Z"  # midnight in Paris (CEST)
    assert manifest["period"]["end_utc_exclusive"] == "2026-11-20T23:00:00Z"
    assert manifest["keel_version"]
    assert [(f["ref"], f["version"]) for f in manifest["frameworks"]] == [("tp-ai", 1), ("tp-ops", 1)]
    assert manifest["frameworks"][0]["source_sha256"] == register["cf_ai"].version.sha256
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "signature.json"}
    for path, entry in listed.items():
        assert entry["size"] == len(files[path]) and entry["sha256"] == hashlib.sha256(files[path]).hexdigest()
    meta = listed[f"evidence/{policy.pk}-1-Logging_policy__v2.pdf"]["evidence"]
    assert meta["evidence_id"] == policy.pk and meta["revision"] == 1 and meta["status"] == "approved"
    assert meta["effective_date"] == "2026-11-10" and meta["approved_by"] == "eng@msp.test"
    assert meta["controls"] == ["AI-LOG-01"]
    assert meta["requirements"] == [{"framework": "tp-ai", "urn": "urn:keel:fw:tp-ai:art12", "ref": "ART12"}]
    assert manifest["integrity_failed"] == [] and manifest["summary"]["evidence_files"] == 3


def test_signature_is_ed25519_over_the_manifest_bytes(built):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pack, _data, files = built
    signature = json.loads(files["signature.json"])
    key = signing_key()
    assert signature["public_key"] == key.public_key_b64 and signature["fingerprint"] == key.fingerprint
    assert pack.key_fingerprint == key.fingerprint
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
    public.verify(base64.b64decode(signature["signature"]), files["manifest.json"])  # raises if wrong
    assert key.fingerprint_grouped in files["README.txt"].decode()


def test_matrix_readiness_and_incidents(built, register):
    _pack, _data, files = built
    rows = list(csv.DictReader(io.StringIO(files["matrix.csv"].decode())))
    art12 = [r for r in rows if r["requirement_ref"] == "ART12"]
    assert {r["evidence_title"] for r in art12} == {"Logging policy", "Log retention export"}
    assert all(
        r["control_code"] == "AI-LOG-01" and r["status"] == "met" and r["evidence_valid"] == "yes" for r in art12
    )
    assert {r["pack_file"] for r in art12} == {
        evidence_path(files, register["policy"]),
        evidence_path(files, register["export"]),
    }
    [art9] = [r for r in rows if r["requirement_ref"] == "ART9"]
    assert art9["status"] == "missing_evidence" and art9["evidence_status"] == "draft" and art9["pack_file"] == ""
    [art4] = [r for r in rows if r["requirement_ref"] == "ART4"]
    assert art4["status"] == "no_control" and art4["control_code"] == ""

    readiness = json.loads(files["readiness.json"])
    by_ref = {f["framework"]: f for f in readiness["frameworks"]}
    assert by_ref["tp-ai"]["score"] == "33.3" and by_ref["tp-ops"]["score"] == "100.0"
    assert [g["ref"] for g in by_ref["tp-ai"]["gaps"]["no_control"]] == ["ART4"]
    assert by_ref["tp-ai"]["trend"][-1]["day"] == "2026-11-20"
    assert files["readiness.pdf"].startswith(b"%PDF-")

    incidents = json.loads(files["incidents.json"])
    [incident] = incidents["incidents"]
    assert incident["id"] == register["incident"].pk and incident["aware_at"] == "2026-11-18T10:00:00Z"
    assert incident["timeline"] and incident["timeline"][0]["at"].endswith("Z")
    gdpr = [o for o in incident["obligations"] if o["report"] == "authority_notification"]
    assert gdpr and gdpr[0]["due_at"] == "2026-11-21T10:00:00Z"  # 72 h after awareness
    lines = list(csv.DictReader(io.StringIO(files["incidents.csv"].decode())))
    assert {line["report"] for line in lines} == {o["report"] for o in incident["obligations"]}


def test_audit_trail_holds_exactly_the_hashed_fields(built):
    from apps.audit.services import hashed_payload

    pack, _data, files = built
    lines = [json.loads(line) for line in files["audit-trail.jsonl"].decode().splitlines()]
    events = list(AuditEvent.objects.filter(seq__lte=lines[-1]["seq"]).order_by("seq"))
    assert [line["seq"] for line in lines] == [e.seq for e in events] == list(range(1, len(events) + 1))
    for line, event in zip(lines, events, strict=True):
        assert line == {**hashed_payload(event), "prev_hash": event.prev_hash, "hash": event.hash}
    assert any(line["action"] == "auditpack.request" for line in lines)
    verification = json.loads(files["audit-trail-verification.json"])
    assert verification["first_seq"] == 1 and verification["last_seq"] == lines[-1]["seq"]
    assert verification["head_hash"] == lines[-1]["hash"] and verification["segment_verified"] is True
    assert verification["chain_at_build"]["verified"] is True
    assert pack.summary["audit_trail"]["count"] == len(lines)


def test_round_trip_verifies_clean(built):
    _pack, data, files = built
    report = verify_pack(io.BytesIO(data), public_key=signing_key().public_key_b64)
    assert report.ok, report.problems
    assert report.signature_ok and report.files_checked == len(files) - 2
    assert report.segment.ok and report.segment.count >= 10
    assert "OK" in report.summary() and grouped(signing_key().fingerprint) in report.summary()


def test_an_evidence_file_changed_inside_the_zip_is_named(built, register):
    _pack, data, files = built
    path = evidence_path(files, register["policy"])
    tampered = rewrite(data, replace={path: PDF.replace(b"1.4", b"1.9")})
    found = problems_of(tampered)
    assert len(found) == 1 and found[0].startswith(f"{path}: SHA-256 is ")


def test_a_removed_file_is_named(built, register):
    _pack, data, files = built
    path = evidence_path(files, register["export"])
    assert problems_of(rewrite(data, drop={path})) == [f"{path}: listed in manifest.json but missing from the pack"]


def test_an_added_file_is_named(built):
    _pack, data, _files = built
    found = problems_of(rewrite(data, add={"evidence/99-1-extra.pdf": PDF}))
    assert found == ["evidence/99-1-extra.pdf: is in the pack but not listed in manifest.json (a file was added)"]


def test_an_edited_manifest_fails_the_signature(built, register):
    _pack, data, files = built
    path = evidence_path(files, register["policy"])
    manifest = json.loads(files["manifest.json"])
    forged = PDF.replace(b"1.4", b"1.9")
    for entry in manifest["files"]:  # the tamperer "fixes" the manifest to match a swapped file
        if entry["path"] == path:
            entry["sha256"] = hashlib.sha256(forged).hexdigest()
    edited = json.dumps(manifest, indent=2).encode()
    found = problems_of(rewrite(data, replace={path: forged, "manifest.json": edited}))
    assert found == ["manifest.json: the signature in signature.json does not match it (manifest.json was changed)"]


def test_a_re_signed_pack_fails_against_the_expected_key(built):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _pack, data, files = built
    other = Ed25519PrivateKey.generate()
    raw = other.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = json.loads(files["signature.json"])
    signature.update(
        public_key=base64.b64encode(raw).decode(),
        signature=base64.b64encode(other.sign(files["manifest.json"])).decode(),
        fingerprint=hashlib.sha256(raw).hexdigest(),
    )
    resigned = rewrite(data, replace={"signature.json": json.dumps(signature).encode()})
    assert problems_of(resigned) == []  # self-consistent: only the key comparison can catch it
    found = problems_of(resigned, public_key=signing_key().public_key_b64)
    assert len(found) == 1 and found[0].startswith("signature.json: signed by key ")
    assert problems_of(resigned, fingerprint=grouped(signing_key().fingerprint))[0].startswith("signature.json:")


def test_an_edited_audit_trail_line_names_the_event(built):
    _pack, data, files = built
    lines = files["audit-trail.jsonl"].decode().splitlines()
    event = json.loads(lines[4])
    event["actor_email"] = "someone-else@msp.test"
    lines[4] = json.dumps(event, separators=(",", ":"))
    found = problems_of(rewrite(data, replace={"audit-trail.jsonl": ("\n".join(lines) + "\n").encode()}))
    assert (
        "audit-trail.jsonl: chain broken at event #5: its content no longer matches its hash (the event was altered)"
        in found
    )
    assert any(p.startswith("audit-trail.jsonl: SHA-256 is ") for p in found)


def test_a_rehashed_audit_trail_line_breaks_the_next_link(built):
    from apps.auditpacks.verify import chain_hash

    _pack, data, files = built
    lines = [json.loads(line) for line in files["audit-trail.jsonl"].decode().splitlines()]
    lines[2]["action"] = "compliance.nothing_happened"
    payload = {k: v for k, v in lines[2].items() if k not in ("prev_hash", "hash")}
    lines[2]["hash"] = chain_hash(payload, lines[2]["prev_hash"])  # the tamperer recomputes its own hash
    body = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    found = problems_of(rewrite(data, replace={"audit-trail.jsonl": body}))
    assert any(p.startswith("audit-trail.jsonl: chain broken at event #4: its prev_hash is not") for p in found)


def test_a_removed_audit_trail_line_is_named(built):
    _pack, data, files = built
    lines = files["audit-trail.jsonl"].decode().splitlines()
    del lines[6]
    found = problems_of(rewrite(data, replace={"audit-trail.jsonl": ("\n".join(lines) + "\n").encode()}))
    assert any("chain broken at event #8: follows event #6" in p for p in found)


def test_a_stored_file_altered_before_packing_is_listed_not_shipped(register, pack_factory):
    export = register["export"]
    revision = export.current_revision
    with default_storage.open(revision.file_name, "wb") as handle:
        handle.write(CSV_BODY.replace(b"1200", b"9999"))
    pack = pack_factory()
    assert pack.status == AuditPack.Status.READY
    files = members(pack_bytes(pack))
    assert not any(p.startswith(f"evidence/{export.pk}-") for p in files)
    manifest = json.loads(files["manifest.json"])
    [failed] = manifest["integrity_failed"]
    assert failed["evidence_id"] == export.pk and failed["revision"] == 1
    assert failed["recorded_sha256"] == hashlib.sha256(CSV_BODY).hexdigest() != failed["found_sha256"]
    assert manifest["summary"]["integrity_failed"] == 1 and pack.summary["integrity_failed"] == 1
    assert pack.summary["integrity_failed_items"] == [{"evidence_id": export.pk, "revision": 1, "title": export.title}]
    # the register learnt it too: the revision is marked, audited and alerted, and no longer proves anything
    revision.refresh_from_db()
    assert revision.integrity == EvidenceRevision.Integrity.FAILED
    assert AuditEvent.objects.filter(action="compliance.evidence_integrity_failed", object_id=str(export.pk)).exists()
    assert Alert.objects.filter(kind="evidence_integrity").exists()
    rows = list(csv.DictReader(io.StringIO(files["matrix.csv"].decode())))
    [row] = [r for r in rows if r["evidence_title"] == export.title]
    assert row["pack_file"] == "" and row["evidence_valid"].startswith("no: ")
    # the pack itself is consistent and says so
    report = verify_pack(io.BytesIO(pack_bytes(pack)))
    assert report.ok and "1 evidence file(s) failed their integrity check" in report.summary()


def test_a_missing_stored_file_is_listed_as_integrity_failed(register, pack_factory):
    policy = register["policy"]
    default_storage.delete(policy.current_revision.file_name)
    pack = pack_factory()
    [failed] = json.loads(members(pack_bytes(pack))["manifest.json"])["integrity_failed"]
    assert failed["evidence_id"] == policy.pk and failed["problem"] == "the stored file is missing"


def test_only_the_selected_frameworks_and_their_evidence(register, pack_factory):
    pack = pack_factory(frameworks=[register["cf_ops"]])
    files = members(pack_bytes(pack))
    manifest = json.loads(files["manifest.json"])
    assert [f["ref"] for f in manifest["frameworks"]] == ["tp-ops"]
    assert [p for p in files if p.startswith("evidence/")] == [f"evidence/{register['backup'].pk}-1-backup-test.pdf"]
    rows = list(csv.DictReader(io.StringIO(files["matrix.csv"].decode())))
    assert {r["framework"] for r in rows} == {"tp-ops"}


def test_the_period_bounds_the_audit_trail_and_incidents(register, pack_factory):
    import datetime as dt

    pack = pack_factory(period_from=dt.date(2026, 10, 1), period_to=dt.date(2026, 10, 31))
    files = members(pack_bytes(pack))
    assert files["audit-trail.jsonl"] == b""
    verification = json.loads(files["audit-trail-verification.json"])
    assert verification["count"] == 0 and verification["first_seq"] is None
    assert json.loads(files["incidents.json"])["incidents"] == []
    assert verify_pack(io.BytesIO(pack_bytes(pack))).ok


# --- the verifier outside Django -------------------------------------------------------------------------------


def _clean_env() -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def test_the_verifier_runs_without_django_settings(built, register, tmp_path):
    _pack, data, files = built
    good = tmp_path / "pack.zip"
    good.write_bytes(data)
    path = evidence_path(files, register["policy"])
    bad = tmp_path / "tampered.zip"
    bad.write_bytes(rewrite(data, replace={path: b"%PDF-1.4 forged"}))
    command = [sys.executable, "-m", "apps.auditpacks.verify"]
    ok = subprocess.run(
        [*command, str(good), "--public-key", signing_key().public_key_b64],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK." in ok.stdout and "chain intact" in ok.stdout
    failed = subprocess.run(
        [*command, str(bad)], cwd=REPO, env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1
    assert f"FAIL {path}: SHA-256 is " in failed.stdout
    # an auditor's copy of the one file, outside any checkout
    copy = tmp_path / "verify.py"
    copy.write_bytes((REPO / "apps" / "auditpacks" / "verify.py").read_bytes())
    alone = subprocess.run(
        [sys.executable, str(copy), str(good)],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 0, alone.stdout + alone.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, apps.auditpacks.verify; print('django' in sys.modules)"],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == "False", probe.stderr


def test_the_management_command(built, register, tmp_path):
    _pack, data, files = built
    good = tmp_path / "pack.zip"
    good.write_bytes(data)
    out = io.StringIO()
    call_command("verify_audit_pack", str(good), "--public-key", signing_key().public_key_b64, stdout=out)
    assert "OK." in out.getvalue()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite(data, drop={"readiness.pdf"}))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("verify_audit_pack", str(bad), stdout=out)
    assert "FAIL readiness.pdf: listed in manifest.json but missing from the pack" in out.getvalue()


def test_the_chain_canonicalisation_matches_the_audit_app():
    from apps.audit.services import GENESIS_HASH, event_hash
    from apps.auditpacks import verify

    payload = {"seq": 1, "action": "x.y", "before": {"b": [1, "é"], "a": None}, "after": {"n": 1.5}}
    assert verify.chain_hash(payload, GENESIS_HASH) == event_hash(payload, GENESIS_HASH)
    assert verify.GENESIS_HASH == GENESIS_HASH


def test_not_a_zip_is_a_problem_not_a_crash():
    report = verify_pack(io.BytesIO(b"not a zip"))
    assert not report.ok and "not a readable ZIP file" in report.problems[0].message
