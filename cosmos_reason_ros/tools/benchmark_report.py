"""What ``cosmos-reason-benchmark`` writes: ``results.jsonl`` (one line per item, written as it
goes), ``summary.json`` (accuracy, correct, total, per datasource) and a self-contained
``report.html``. Model text is untrusted: every piece of it is HTML-escaped."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["ResultsWriter", "render_report", "summarize", "write_outputs"]


class ResultsWriter:
    """Appends one JSON line per item to ``results.jsonl``, flushed, so a stopped run keeps
    what it finished."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / "results.jsonl"
        self._file: TextIO = self.path.open("w", encoding="utf-8")

    def write(self, result: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(result, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _figures(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    total = len(results)
    correct = sum(1 for r in results if r["correct"])
    return {"accuracy": correct / total if total else 0.0, "correct": correct, "total": total}


def summarize(results: Sequence[Mapping[str, Any]], run: Mapping[str, Any]) -> dict[str, Any]:
    """The summary: ``accuracy`` (correct / total, as upstream's ``calculate_accuracy``),
    ``correct``, ``total``, ``per_datasource`` figures, how many answers stayed empty after the
    retries, how many items needed retries or failed, and ``run`` (model, settings ...)."""
    datasources = sorted({str(r["datasource"]) for r in results})
    per = {d: _figures([r for r in results if r["datasource"] == d]) for d in datasources}
    return {
        **_figures(results),
        "per_datasource": per,
        "empty_answers": sum(1 for r in results if not r["predicted"]),
        "retried": sum(1 for r in results if r["attempts"] > 1),
        "errors": sum(1 for r in results if r["error"]),
        **run,
    }


def render_report(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> str:
    """The HTML report: the figures, a table per datasource and every item."""
    e = html.escape
    settings = summary.get("settings", {})
    head = [
        ("model", summary.get("model", "")),
        ("backend", summary.get("backend", "")),
        ("answer type", settings.get("answer_type", "")),
        ("accuracy", f"{summary['accuracy']:.4f} ({summary['correct']} / {summary['total']})"),
        ("empty after retries", summary["empty_answers"]),
        ("errors", summary["errors"]),
        ("settings", json.dumps(settings)),
    ]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in head)
    per = "".join(
        f"<tr><td>{e(name)}</td><td>{f['accuracy']:.4f}</td><td>{f['correct']}</td>"
        f"<td>{f['total']}</td></tr>"
        for name, f in summary["per_datasource"].items()
    )
    items = "".join(_item_row(r) for r in results)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>cosmos-reason-benchmark</title>"
        f"<style>{_CSS}</style></head><body><h1>cosmos-reason-benchmark</h1>"
        f"<table>{rows}</table><h2>Per datasource</h2>"
        "<table><tr><th>datasource</th><th>accuracy</th><th>correct</th><th>total</th></tr>"
        f"{per}</table><h2>Items</h2>"
        "<table><tr><th>#</th><th>datasource</th><th>question</th><th>gold</th>"
        f"<th>answer</th><th>attempts</th><th>response</th></tr>{items}</table>"
        "</body></html>\n"
    )


def _item_row(r: Mapping[str, Any]) -> str:
    e = html.escape
    options = "<br>".join(f"({e(k)}) {e(v)}" for k, v in r["index2ans"].items())
    verdict = "ok" if r["correct"] else "wrong"
    response = e(r["full_response"]) or e(r["error"])
    return (
        f"<tr class='{verdict}'><td>{r['index']}</td><td>{e(r['datasource'])}</td>"
        f"<td>{e(r['question'])}<br><small>{options}</small></td><td>{e(r['answer'])}</td>"
        f"<td>{e(r['predicted']) or '&mdash;'}</td><td>{r['attempts']}</td>"
        f"<td><details><summary>{len(r['full_response'])} chars</summary>"
        f"<pre>{response}</pre></details></td></tr>"
    )


def write_outputs(
    out_dir: Path, summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]
) -> None:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``."""
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "report.html").write_text(render_report(summary, results), encoding="utf-8")


_CSS = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}"
    "tr.ok td:nth-child(5){background:#dfd}tr.wrong td:nth-child(5){background:#fdd}"
    "pre{white-space:pre-wrap;max-width:60em}"
)
