"""Evidence jobs (固证): screenshots of pages with findings, WARC files of sweeps, export and verify.

The sweep pipeline calls:

- :func:`open_sweep_warc` once per process part of a sweep (a new ``sweep-<id>-<n>.warc.gz``);
- ``writer.write_capture(capture)`` for every stored page capture (and its related captures);
- :func:`close_sweep_warc` when the process part ends (closes, hashes, registers the file);
- :func:`capture_evidence` with the page ids that got findings (or ``None``: every page of the
  run with findings and no screenshot yet, which is what a resumed sweep wants).

``export`` writes a ZIP package of findings with a manifest of SHA-256 hashes; ``verify`` checks
one offline. Runs made by ``mdwatch scan`` / ``demo run`` have no screenshots or WARC files: the
export takes a screenshot then (and stores it) and writes a WARC of the exported captures, and
says so in the manifest.

Modules: :mod:`.capture` (sweep-time WARC files and screenshots), :mod:`.exporting` (the package),
with :mod:`.package_pages`, :mod:`.documents`, :mod:`.package_zip` and :mod:`.package_format`;
:mod:`.verification` (the offline check), with :mod:`.verify_checks` and :mod:`.verify_report`;
:mod:`.commands` (the CLI bodies).
"""

from __future__ import annotations

from mdwatch.scheduler.jobs.evidence.commands import export_command, verify_command
from mdwatch.scheduler.jobs.evidence.exporting import EvidenceError, ExportResult, export
from mdwatch.scheduler.jobs.evidence.package_format import (
    FORMAT,
    MANIFEST,
    NOTE_EXPORT_SCREENSHOT,
    README,
    SHANGHAI,
)
from mdwatch.scheduler.jobs.evidence.verification import verify
from mdwatch.scheduler.jobs.evidence.verify_checks import MAX_MANIFEST_BYTES, unsafe_member_name
from mdwatch.scheduler.jobs.evidence.verify_report import PROBLEM_LABELS, FileProblem, VerifyReport
from mdwatch.scheduler.pipeline.capture import (
    EvidenceResult,
    capture_evidence,
    close_sweep_warc,
    open_sweep_warc,
)

__all__ = [
    "FORMAT",
    "MANIFEST",
    "MAX_MANIFEST_BYTES",
    "NOTE_EXPORT_SCREENSHOT",
    "PROBLEM_LABELS",
    "README",
    "SHANGHAI",
    "EvidenceError",
    "EvidenceResult",
    "ExportResult",
    "FileProblem",
    "VerifyReport",
    "capture_evidence",
    "close_sweep_warc",
    "export",
    "export_command",
    "open_sweep_warc",
    "unsafe_member_name",
    "verify",
    "verify_command",
]
