"""The report: what the run broke, and what it verified — printed, and as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.checks import CHECKS
from chaos.verify import CaseResult


@dataclass
class Report:
    seed: int
    mode: str
    work_dir: str
    wall_seconds: float = 0.0
    time_bounded: bool = False
    faults: dict[str, int] = field(default_factory=dict)
    poison_by_kind: dict[str, int] = field(default_factory=dict)
    poison_by_signal: dict[str, int] = field(default_factory=dict)
    fault_log: list[str] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    staff: dict[str, Any] = field(default_factory=dict)
    cases: list[CaseResult] = field(default_factory=list)
    saved_histories: list[str] = field(default_factory=list)

    def failed_checks(self) -> dict[str, list[CaseResult]]:
        return {check: [c for c in self.cases if c.failed(check)] for check in CHECKS}

    @property
    def ok(self) -> bool:
        return bool(self.cases) and not any(self.failed_checks().values())

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["ok"] = self.ok
        body["checks"] = {
            check: {"passed": not failed, "failed_cases": [c.workflow_id for c in failed]}
            for check, failed in self.failed_checks().items()
        }
        return body

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str))

    def render(self) -> str:
        lines = [
            f"sagsflow chaos — {self.mode} run, seed {self.seed}, "
            f"{self.wall_seconds:.0f} s wall time",
            f"work dir (logs, db): {self.work_dir}",
            "",
            "WHAT IT BROKE",
        ]
        for name, count in sorted(self.faults.items()):
            lines.append(f"  {name:38} {count}")
        delivered = sum(self.poison_by_kind.values())
        lines.append(f"  {'poison signals delivered':38} {delivered}")
        lines.append(
            "    by kind:   "
            + ", ".join(f"{k} {n}" for k, n in sorted(self.poison_by_kind.items()))
        )
        lines.append(
            "    by signal: "
            + ", ".join(f"{k} {n}" for k, n in sorted(self.poison_by_signal.items()))
        )
        if self.fault_log:
            lines.append("  timeline:")
            lines += [f"    {entry}" for entry in self.fault_log]
        lines += ["", "STAFF (the driver)"]
        for name, value in self.staff.items():
            lines.append(f"  {name:38} {value}")
        if self.harness_errors:
            lines += ["", "HARNESS NOTES"] + [f"  ! {e}" for e in self.harness_errors[:20]]
        lines += [
            "",
            f"WHAT IT VERIFIED ({len(self.cases)} cases"
            + (", time-bounded: running cases may wait at a task)" if self.time_bounded else ")"),
        ]
        for check, failed in self.failed_checks().items():
            verdict = "PASSED" if not failed else f"FAILED ({len(failed)}/{len(self.cases)})"
            lines.append(f"  [{verdict}] {CHECKS[check]}")
            for case in failed[:12]:
                reasons = case.problems[check]
                extra = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
                lines.append(f"      {case.workflow_id} [{case.route}]: {reasons[0]}{extra}")
            if len(failed) > 12:
                lines.append(f"      … and {len(failed) - 12} more cases")
        lines += ["", "CASES"]
        for case in self.cases:
            bad = [check for check in CHECKS if case.failed(check)]
            lines.append(
                f"  {case.workflow_id:28} {case.route:27} {case.status:10} "
                f"faults {case.faults_seen:2}  poison {case.poison_delivered:2} "
                f"(+{case.poison_refused_closed} refused: closed)  "
                f"rejected {case.rejected_events:3}"
                f"  {'ok' if not bad else 'FAILED ' + ','.join(bad)}"
            )
            for note in case.notes[:2]:
                lines.append(f"      note: {note[:200]}")
        if self.saved_histories:
            lines += ["", "SAVED HISTORIES"] + [f"  {p}" for p in self.saved_histories]
        lines += ["", "RESULT: " + ("all checks passed" if self.ok else "FAILED")]
        return "\n".join(lines)
