"""The readable table printed after a run; the JSON report contains every row in full."""

from __future__ import annotations

from typing import Any

_LEMMAS = ("Lemma 4.1", "Lemma 4.2")


def _lemma_rows(checks: list[dict[str, Any]]) -> list[list[str]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for check in checks:
        if check["statement"] in _LEMMAS:
            groups.setdefault((check["statement"], check["check"]), []).append(check)
    rows = []
    for (statement, name), group in groups.items():
        failed = sum(c["status"] == "fail" for c in group)
        violations = sum(c["observed"] for c in group)
        status = "fail" if failed else "pass"
        rows.append([statement, name, f"{len(group)} (K, score, null) cases", "-", str(group[0]["trials"]),
                     f"{violations:g}", "0", "0", status])
    return rows


def format_table(report: dict[str, Any]) -> str:
    """Render the report's checks as a fixed-width table, lemma checks grouped over their cases."""
    header = ["statement", "check", "setting", "rule", "trials", "observed", "bound", "tol", "status"]
    rows = _lemma_rows(report["checks"])
    for check in report["checks"]:
        if check["statement"] in _LEMMAS:
            continue
        rows.append([
            check["statement"], check["check"], check["setting"], check["rule"], str(check["trials"]),
            f"{check['observed']:.4g}", f"{check['bound']:.4g}", f"{check['tolerance']:.2g}", check["status"],
        ])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    env = report["environment"]
    summary = report["summary"]
    lines.append("")
    lines.append(
        f"profile {report['profile']}, calibrator {report['calibrator']}, seed {report['seed']}: "
        f"{summary['pass']} passed, {summary['fail']} failed, {summary['not applicable']} not applicable "
        f"in {report['run_time_s']:.1f} s on {env['device_count']} x {env['device_kind']} "
        f"({env['platform']}), JAX {env['jax_version']}"
    )
    return "\n".join(lines)
