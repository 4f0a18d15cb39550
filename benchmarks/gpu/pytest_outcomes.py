"""What `pytest -m gpu` did, from its JUnit XML and its log: outcomes per test, and which could not run and why.

Standard library only (the GPU check summarises even where vitpose_trt does not import). A failed or
errored test, or a test module that could not be collected, whose message says a Python module is missing
("No module named 'x'", vitpose_trt's "x is needed ... but is not installed") is put under
`missing_dependency` / `collection_errors` with that module: the test could not run here. Every other
failure stays a failure.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

#: Messages that name a missing Python module (first group: the module).
MISSING_MODULE_PATTERNS = (
    re.compile(r"No module named '([\w.]+)'"),
    re.compile(r"\b([\w.]+) is needed\b.* but is not installed"),
    re.compile(r"neither (\w+) nor \w+ is installed"),
)
#: pytest's final line: counts and the wall time ("3 failed, 10 passed, 200 deselected in 41.2s").
SUMMARY_LINE = re.compile(r"\b(\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)|"
                          r"no tests ran)\b.* in [\d.]+s")
COLLECTION_FAILURE = "collection failure"
ERROR_LINE_PREFIX = "E   "
OUTCOME_TAGS = ("failure", "error", "skipped")


def missing_module(text: str) -> str | None:
    """The top-level module a failure message says is missing, or None."""
    for pattern in MISSING_MODULE_PATTERNS:
        found = pattern.search(text or "")
        if found:
            return found.group(1).split(".")[0]
    return None


def summary_line(log_text: str) -> str | None:
    """pytest's last summary line without its '=' rule ("1 failed, 3 passed in 2.0s"), or None."""
    for line in reversed(log_text.splitlines()):
        if SUMMARY_LINE.search(line):
            return line.strip().strip("=").strip()
    return None


def _error_reason(text: str) -> str:
    """The last 'E   ...' line of a traceback (the exception), else its last non-empty line."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    errors = [line[len(ERROR_LINE_PREFIX):].strip() for line in lines if line.startswith(ERROR_LINE_PREFIX)]
    return errors[-1] if errors else (lines[-1].strip() if lines else "")


def _testcase(case: ElementTree.Element) -> dict:
    """{"test", "outcome" (passed | failed | error | skipped | collection), "message", "missing_module"}."""
    classname, name = case.get("classname", ""), case.get("name", "")
    test = f"{classname.replace('.', '/')}.py::{name}" if classname else name
    for tag in OUTCOME_TAGS:
        element = case.find(tag)
        if element is None:
            continue
        message, text = element.get("message", ""), element.text or ""
        if tag == "error" and message == COLLECTION_FAILURE:
            return {"test": name.replace(".", "/") + ".py", "outcome": "collection", "message": _error_reason(text),
                    "missing_module": missing_module(text)}
        outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
        reason = message if tag == "skipped" else (_error_reason(text) or message)
        return {"test": test, "outcome": outcome, "message": reason,
                "missing_module": None if tag == "skipped" else missing_module(f"{message}\n{text}")}
    return {"test": test, "outcome": "passed", "message": "", "missing_module": None}


def pytest_outcomes(junit: Path | None, log: Path | None) -> dict:
    """The pytest part of the results: summary line, counts, and the tests sorted by what happened.

    Returns {"summary", "counts": {outcome: n}, "failed": [...], "missing_dependency": [...],
    "collection_errors": [...], "skipped": [...], "junit_error"}; each list item is `_testcase`'s dict.
    """
    log_text = log.read_text(encoding="utf-8", errors="replace") if log and log.is_file() else ""
    result = {"summary": summary_line(log_text), "counts": {}, "failed": [], "missing_dependency": [],
              "collection_errors": [], "skipped": [], "junit_error": None}
    try:
        cases = [_testcase(c) for c in ElementTree.parse(junit).getroot().iter("testcase")]
    except (OSError, TypeError, ElementTree.ParseError) as exc:
        result["junit_error"] = f"no readable JUnit XML ({junit}): {exc}"
        return result
    for case in cases:
        result["counts"][case["outcome"]] = result["counts"].get(case["outcome"], 0) + 1
        if case["outcome"] == "collection":
            result["collection_errors"].append(case)
        elif case["outcome"] == "skipped":
            result["skipped"].append(case)
        elif case["outcome"] in ("failed", "error"):
            result["missing_dependency" if case["missing_module"] else "failed"].append(case)
    return result


def has_real_failures(outcomes: dict) -> bool:
    """Whether pytest failed for a reason other than a missing module (or left no readable results)."""
    unexplained = [c for c in outcomes["collection_errors"] if not c["missing_module"]]
    return bool(outcomes["junit_error"] or outcomes["failed"] or unexplained)
