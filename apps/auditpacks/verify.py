"""Verify a Keel audit pack offline: no Django, no database, no network; only the standard library,
`cryptography` (Ed25519) and `rfc8785` (the audit chain's canonical JSON).

    python -m apps.auditpacks.verify keel-audit-pack.zip [--public-key <base64>] [--fingerprint <hex>]

Checks, each problem printed on its own line naming the file:
- manifest.json lists every file of the ZIP (except itself and signature.json) and no other, each with the
  size and SHA-256 it has;
- signature.json holds a valid Ed25519 signature over the exact bytes of manifest.json, by the key given with
  --public-key / --fingerprint when given (otherwise compare the printed fingerprint out of band);
- audit-trail.jsonl is an unbroken chain: consecutive seq numbers, each prev_hash the previous event's hash,
  each hash = SHA-256(prev_hash + RFC 8785 JSON of the event's hashed fields), and it matches
  audit-trail-verification.json (first/last seq, head hash).
Exit status 0 with a summary when the pack is clean, 1 on any problem (2 on bad usage).

This file must stay importable without Django: keep it free of Django and of other Keel modules.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "keel-audit-pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
AUDIT_TRAIL = "audit-trail.jsonl"
AUDIT_VERIFICATION = "audit-trail-verification.json"
UNLISTED = frozenset({MANIFEST, SIGNATURE})  # the manifest cannot list itself, nor the signature over it
GENESIS_HASH = "0" * 64  # apps.audit.services.GENESIS_HASH: the prev_hash of event #1
CHAIN_FIELDS = ("prev_hash", "hash")  # stored with each line, outside the hashed payload
CHUNK = 1024 * 1024


# --- shared with the builder (pure functions) ------------------------------------------------------------------


def chain_hash(payload: dict, prev_hash: str) -> str:
    """apps.audit.services.event_hash: SHA-256 over prev_hash followed by the RFC 8785 form of the payload."""
    return hashlib.sha256(prev_hash.encode() + rfc8785.dumps(payload)).hexdigest()


def key_fingerprint(public_key: bytes) -> str:
    """SHA-256 of the raw 32-byte Ed25519 public key, lower-case hex."""
    return hashlib.sha256(public_key).hexdigest()


def grouped(fingerprint: str) -> str:
    """A fingerprint for people to compare: 16 groups of 4."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


@dataclass
class SegmentResult:
    ok: bool
    count: int
    first_seq: int | None
    last_seq: int | None
    anchor_hash: str  # prev_hash of the first event: where the segment hangs off the chain
    head_hash: str
    problems: list[tuple[int | None, str]] = field(default_factory=list)  # (seq, message)


def verify_segment(events: list[dict]) -> SegmentResult:
    """Recompute each event's hash from the previous one. `events`: hashed fields + prev_hash + hash, in order."""
    problems: list[tuple[int | None, str]] = []
    previous: dict | None = None
    for event in events:
        seq = event.get("seq")
        payload = {k: v for k, v in event.items() if k not in CHAIN_FIELDS}
        prev_hash, stored = event.get("prev_hash"), event.get("hash")
        if not isinstance(seq, int) or not isinstance(prev_hash, str) or not isinstance(stored, str):
            problems.append((seq if isinstance(seq, int) else None, "the line lacks seq, prev_hash or hash"))
            previous = event
            continue
        if previous is not None:
            expected = previous.get("seq")
            if isinstance(expected, int) and seq != expected + 1:
                what = "missing" if seq > expected + 1 else "out of order or repeated"
                problems.append((seq, f"follows event #{expected}: events in between are {what}"))
            elif prev_hash != previous.get("hash"):
                problems.append((seq, "its prev_hash is not the previous event's hash (an earlier event was altered)"))
        elif seq == 1 and prev_hash != GENESIS_HASH:
            problems.append((seq, "event #1 must follow the genesis hash"))
        try:
            recomputed = chain_hash(payload, prev_hash)
        except Exception as exc:  # rfc8785 refuses values JSON cannot carry exactly
            problems.append((seq, f"cannot be canonicalised ({exc})"))
        else:
            if recomputed != stored:
                problems.append((seq, "its content no longer matches its hash (the event was altered)"))
        previous = event
    return SegmentResult(
        ok=not problems,
        count=len(events),
        first_seq=events[0].get("seq") if events else None,
        last_seq=events[-1].get("seq") if events else None,
        anchor_hash=str(events[0].get("prev_hash", "")) if events else "",
        head_hash=str(events[-1].get("hash", "")) if events else "",
        problems=problems,
    )


# --- the pack ----------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    file: str
    message: str

    def __str__(self):
        return f"{self.file}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    fingerprint: str = ""
    signature_ok: bool = False
    segment: SegmentResult | None = None
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, file: str, message: str) -> None:
        self.problems.append(Problem(file, message))

    def summary(self) -> str:
        client = self.manifest.get("client", {})
        lines = [
            f"Audit pack of {client.get('name', '?')} ({client.get('slug', '?')}), generated "
            f"{self.manifest.get('generated_at', '?')} by {self.manifest.get('generated_by', '?')}: OK.",
            f"{self.files_checked} files match manifest.json (size and SHA-256), and no file is unlisted.",
            f"Signature: valid Ed25519 over manifest.json, key fingerprint {grouped(self.fingerprint)}.",
        ]
        segment = self.segment
        if segment is not None and segment.count:
            lines.append(
                f"Audit trail: events #{segment.first_seq}–#{segment.last_seq} ({segment.count}) chain intact, "
                f"head {segment.head_hash}."
            )
        elif segment is not None:
            lines.append("Audit trail: no event in the period.")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def _digest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(info) as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"{what} is {len(raw)} bytes; an Ed25519 public key is 32")
    return raw


def verify_pack(source, *, public_key: str | None = None, fingerprint: str | None = None) -> Report:
    """Verify the pack at `source` (a path or a binary file object). Never raises for a bad pack: every
    problem becomes a Problem in the report."""
    report = Report()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        report.add(str(source), f"not a readable ZIP file ({exc})")
        return report
    with archive:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            if not _safe_member(info.filename):
                report.add(info.filename, "unsafe path in the ZIP (absolute, .. or backslash)")
                continue
            if info.filename in members:
                report.add(info.filename, "appears twice in the ZIP")
                continue
            members[info.filename] = info
        manifest_bytes = _read(archive, members, MANIFEST, report)
        manifest = _parse_manifest(manifest_bytes, report)
        report.manifest = manifest
        _check_signature(archive, members, manifest_bytes, report, public_key, fingerprint)
        listed = _check_files(archive, members, manifest, report)
        if AUDIT_TRAIL in listed or AUDIT_TRAIL in members:
            _check_audit_trail(archive, members, report)
        failed = manifest.get("integrity_failed") or []
        if failed:
            report.notes.append(
                f"{len(failed)} evidence file(s) failed their integrity check when the pack was built and were "
                "not shipped (listed under integrity_failed in manifest.json): "
                + ", ".join(f"evidence {f.get('evidence_id')} revision {f.get('revision')}" for f in failed)
            )
    return report


def _read(archive, members, name: str, report: Report) -> bytes | None:
    info = members.get(name)
    if info is None:
        report.add(name, "missing from the pack")
        return None
    with archive.open(info) as handle:
        return handle.read()


def _parse_manifest(data: bytes | None, report: Report) -> dict:
    if data is None:
        return {}
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        report.add(MANIFEST, f"is not valid JSON ({exc})")
        return {}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        report.add(MANIFEST, "has no list of files")
        return manifest if isinstance(manifest, dict) else {}
    if manifest.get("format") != FORMAT:
        report.add(MANIFEST, f"format is {manifest.get('format')!r}; this verifier reads {FORMAT}")
    return manifest


def _check_signature(archive, members, manifest_bytes, report: Report, public_key, fingerprint) -> None:
    data = _read(archive, members, SIGNATURE, report)
    if data is None or manifest_bytes is None:
        return
    try:
        signature = json.loads(data)
        key = _decode_key(signature["public_key"], "its public_key")
        sig = base64.b64decode(signature["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        report.add(SIGNATURE, f"cannot be read ({exc})")
        return
    report.fingerprint = key_fingerprint(key)
    if signature.get("fingerprint") and signature["fingerprint"] != report.fingerprint:
        report.add(SIGNATURE, "its fingerprint is not the SHA-256 of its public key")
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, manifest_bytes)
        report.signature_ok = True
    except InvalidSignature:
        report.add(MANIFEST, "the signature in signature.json does not match it (manifest.json was changed)")
    except ValueError as exc:
        report.add(SIGNATURE, f"invalid key or signature ({exc})")
    if public_key:
        try:
            expected = _decode_key(public_key, "--public-key")
        except ValueError as exc:
            report.add(SIGNATURE, str(exc))
        else:
            if expected != key:
                report.add(SIGNATURE, f"signed by key {grouped(report.fingerprint)}, not by the key given")
    if fingerprint:
        wanted = "".join(fingerprint.split()).lower().removeprefix("sha256:")
        if wanted != report.fingerprint:
            report.add(SIGNATURE, f"signed by key {grouped(report.fingerprint)}, not by the fingerprint given")


def _check_files(archive, members, manifest: dict, report: Report) -> set[str]:
    listed: dict[str, dict] = {}
    for entry in manifest.get("files") or []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            report.add(MANIFEST, f"a file entry has no path: {entry!r}"[:200])
            continue
        if path in listed:
            report.add(path, "listed twice in manifest.json")
            continue
        listed[path] = entry
    for path, entry in listed.items():
        info = members.get(path)
        if info is None:
            report.add(path, "listed in manifest.json but missing from the pack")
            continue
        digest, size = _digest(archive, info)
        report.files_checked += 1
        if size != entry.get("size"):
            report.add(path, f"is {size:,} bytes; manifest.json says {entry.get('size')}")
        if digest != entry.get("sha256"):
            report.add(path, f"SHA-256 is {digest}; manifest.json says {entry.get('sha256')} (the file was changed)")
    for path in sorted(set(members) - set(listed) - UNLISTED):
        report.add(path, "is in the pack but not listed in manifest.json (a file was added)")
    return set(listed)


def _check_audit_trail(archive, members, report: Report) -> None:
    data = _read(archive, members, AUDIT_TRAIL, report)
    if data is None:
        return
    events = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            report.add(AUDIT_TRAIL, f"line {number} is not a JSON object ({exc})")
            continue
        events.append(event)
    segment = verify_segment(events)
    report.segment = segment
    for seq, message in segment.problems:
        report.add(AUDIT_TRAIL, f"chain broken at event #{seq}: {message}" if seq is not None else message)
    claimed_bytes = _read(archive, members, AUDIT_VERIFICATION, report)
    if claimed_bytes is None:
        return
    try:
        claimed = json.loads(claimed_bytes)
    except ValueError as exc:
        report.add(AUDIT_VERIFICATION, f"is not valid JSON ({exc})")
        return
    for key, actual in (
        ("first_seq", segment.first_seq),
        ("last_seq", segment.last_seq),
        ("count", segment.count),
        ("head_hash", segment.head_hash or None),
        ("anchor_hash", segment.anchor_hash or None),
    ):
        if (claimed.get(key) or None) != (actual or None):
            report.add(AUDIT_VERIFICATION, f"{key} is {claimed.get(key)!r}; audit-trail.jsonl gives {actual!r}")


# --- command line ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m apps.auditpacks.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("pack", help="the audit pack ZIP")
    parser.add_argument("--public-key", help="the MSP's Ed25519 public key (base64 of the raw 32 bytes)")
    parser.add_argument("--fingerprint", help="or its fingerprint (SHA-256 hex, spaces allowed)")
    args = parser.parse_args(argv)
    report = verify_pack(args.pack, public_key=args.public_key, fingerprint=args.fingerprint)
    if report.ok:
        print(report.summary(), file=out)
        if not (args.public_key or args.fingerprint):
            print(
                "Compare the key fingerprint with the one your MSP shows on the audit-pack page "
                "(or pass --public-key / --fingerprint).",
                file=out,
            )
        return 0
    for problem in report.problems:
        print(f"FAIL {problem}", file=out)
    print(f"{len(report.problems)} problem(s): the pack does not verify.", file=out)
    return 1


if __name__ == "__main__":
    sys.exit(main())
