"""``cosmos-reason-benchmark``: upstream's Cosmos-Reason1 benchmark, run through any backend,
so published figures can be checked.

    cosmos-reason-benchmark ITEMS.jsonl --model nvidia/Cosmos-Reason1-7B --out DIR \\
        [--backend transformers|openai|tensorrt_llm] [--answer-type reasoning|letter]

``ITEMS.jsonl`` holds one JSON object per line in upstream's fields: ``question``,
``index2ans`` (``{"A": "…", "B": "…"}``), ``answer`` (or ``correct_answer``), ``video`` (the
clip's path, relative to the file's folder) and, optionally, ``datasource``. Each item is asked
as upstream's benchmark asks it (``benchmark_items``: system prompt, the video at 4 fps before
the text, the option lines and instructions, upstream's settings unless overridden), scored by
upstream's letter rule with its empty-answer retries, and written to ``DIR/results.jsonl``;
``DIR/summary.json`` and ``DIR/report.html`` follow (``benchmark_report``).

Everything is checked before the model loads: the settings, every item and that every video
opens. The options that choose the model and its backend (``--model``, ``--backend``,
``--base-url``, ``--device``, ``--dtype``, ``--quantization``, ``--set``) are node parameters
(``config.SPEC_BY_NAME``); the others are upstream's benchmark settings (``benchmark_items``).
Exit status (``tools.exits``, README "Exit status"): 0 done; 1 the backend failed to load;
2 bad input or settings (nothing was loaded); 130 interrupted (results.jsonl keeps the items
finished).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]

from cosmos_reason_ros.config.build import build_config
from cosmos_reason_ros.config.loading import load_configured
from cosmos_reason_ros.core.errors import BackendError, ConfigError
from cosmos_reason_ros.core.generation import (
    Backend,
    ChatMessage,
    GenerationRequest,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.benchmark_items import (
    ANSWER_TYPES,
    BenchmarkError,
    BenchmarkSettings,
    Item,
    letter_of,
    load_items,
    load_video,
    prompt_text,
    system_prompt,
)
from cosmos_reason_ros.tools.benchmark_report import ResultsWriter, summarize, write_outputs
from cosmos_reason_ros.tools.options import (
    HelpFormatter,
    add_param_options,
    add_progress_option,
    param_values,
    parse_sets,
    silence_progress_bars,
    stop_signals_as_interrupt,
)

__all__ = ["build_parser", "main", "request_for", "run_benchmark"]

_LOG = logging.getLogger(__name__)
BACKEND_PARAMS = ("model", "backend", "base_url", "device", "dtype", "quantization")
"""The node parameters this tool has an option for (any other: ``--set``)."""
_EXITS = {
    ExitCode.OK: None,
    ExitCode.FAILED: "the backend failed to load",
    ExitCode.INPUT: None,
    ExitCode.INTERRUPTED: "Ctrl-C or SIGTERM (results.jsonl keeps the items finished)",
}
_SETTINGS = {  # option dest: BenchmarkSettings field
    "answer_type": "answer_type",
    "fps": "fps",
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "repetition_penalty": "repetition_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "max_retries": "max_retries",
}


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    p = argparse.ArgumentParser(
        prog="cosmos-reason-benchmark",
        description="Run upstream's Cosmos-Reason1 benchmark items (JSON lines) through a "
        "backend; write results.jsonl, summary.json and report.html.",
        epilog=exit_epilog(_EXITS),
        formatter_class=HelpFormatter,
    )
    p.add_argument("items", type=Path, help="ITEMS.jsonl in upstream's fields")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    add_param_options(p, BACKEND_PARAMS, required=["model"])
    p.add_argument(
        "--answer-type",
        default="reasoning",
        choices=ANSWER_TYPES,
        help="reasoning: think, then answer; letter: answer with the option's letter at once",
    )
    d = BenchmarkSettings()
    upstream: tuple[tuple[str, type, str, object], ...] = (
        ("--fps", float, "frames per second given", f"{d.fps:g}"),
        ("--max-tokens", int, "generated tokens at most", d.max_tokens),
        ("--temperature", float, "sampling temperature", d.temperature),
        ("--top-p", float, "nucleus sampling mass", d.top_p),
        ("--repetition-penalty", float, "repetition penalty", d.repetition_penalty),
        ("--presence-penalty", float, "presence penalty", d.presence_penalty),
        ("--seed", int, "sampling seed", d.seed),
        ("--max-retries", int, "asks again after an empty answer, at most this often", 10),
    )
    for flag, kind, text, value in upstream:
        p.add_argument(flag, type=kind, help=f"{text} (default: upstream's, {value})")
    p.add_argument("--limit", type=int, help="ask only the first N items")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any node parameter for the backend (e.g. timeout_s=120), value parsed as YAML",
    )
    add_progress_option(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``cosmos-reason-benchmark``. Returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad arguments, 0 on --help
        return exc.code if isinstance(exc.code, int) else ExitCode.INPUT
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.no_progress:
            silence_progress_bars()
        overrides = {f: getattr(args, k) for k, f in _SETTINGS.items()}
        settings = BenchmarkSettings(**{k: v for k, v in overrides.items() if v is not None})
        values = {**parse_sets(args.set), **param_values(args, BACKEND_PARAMS)}
        with stop_signals_as_interrupt():
            summary = run_benchmark(
                args.items,
                out_dir=args.out,
                values=values,
                settings=settings,
                limit=args.limit,
                progress=not args.no_progress,
            )
    except (BenchmarkError, ConfigError) as err:
        print(f"cosmos-reason-benchmark: error: {err}", file=sys.stderr)
        return ExitCode.INPUT
    except BackendError as err:
        print(f"cosmos-reason-benchmark: backend error: {err}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        print("cosmos-reason-benchmark: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    print(
        f"accuracy {summary['accuracy']:.4f} ({summary['correct']}/{summary['total']}), "
        f"empty {summary['empty_answers']}, errors {summary['errors']}; wrote {args.out}"
    )
    return ExitCode.OK


def run_benchmark(
    items_path: str | Path,
    *,
    out_dir: str | Path,
    values: Mapping[str, Any],
    settings: BenchmarkSettings | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Ask every item, score it and write the outputs; returns the summary.

    Args:
        items_path: The items (JSON lines, upstream's fields).
        out_dir: Folder for results.jsonl, summary.json and report.html (created).
        values: Node parameters of the backend (``model``, ``backend``, ``base_url`` ...).
        settings: Upstream's benchmark settings, or overrides of them.
        limit: Ask only the first ``limit`` items.
        progress: Show a progress bar on stderr.

    Raises:
        BenchmarkError: Bad items or settings (raised before anything loads).
        ConfigError: Bad backend values (raised before anything loads).
        BackendError: The backend failed to load.
    """
    settings = settings or BenchmarkSettings()
    if limit is not None and limit < 1:
        raise BenchmarkError(f"--limit must be at least 1, got {limit}")
    items = load_items(items_path)[:limit]
    build_config(values)  # every backend value checked before the model loads
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        writer = ResultsWriter(out)
    except OSError as err:
        raise BenchmarkError(f"cannot write to {out}: {err}") from None
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    try:
        config, backend = load_configured(values)
        try:
            patch = config.window.patch_multiple
            family = config.reasoner.profile
            run = {
                "model": str(values.get("model", "")),
                "backend": config.backend.backend,
                "architecture": config.architecture.model_type,
                "profile": family,
                "items": str(items_path),
                "settings": asdict(settings),
            }
            _ask_all(
                backend,
                items,
                settings,
                patch,
                family=family,
                writer=writer,
                results=results,
                progress=progress,
            )
        finally:
            backend.close()
    finally:
        writer.close()
    summary = summarize(results, {**run, "duration_s": round(time.monotonic() - started, 3)})
    write_outputs(out, summary, results)
    return summary


def _ask_all(
    backend: Backend,
    items: Sequence[Item],
    settings: BenchmarkSettings,
    patch: int,
    *,
    family: str = "",
    writer: ResultsWriter,
    results: list[dict[str, Any]],
    progress: bool,
) -> None:
    bar = tqdm(total=len(items), desc="benchmark", unit="item", disable=not progress)
    try:
        for item in items:
            result = ask(backend, item, settings, patch, family)
            results.append(result)
            writer.write(result)
            correct = sum(1 for r in results if r["correct"])
            bar.set_postfix(accuracy=f"{correct / len(results):.3f}")
            bar.update(1)
    finally:
        bar.close()


def request_for(
    item: Item, clip: Clip, settings: BenchmarkSettings, retry: int = 0, family: str = ""
) -> GenerationRequest:
    """The request of ``item`` as upstream's benchmark asks it: its system prompt, the video
    before the text, free text (no schema), attempt ``retry``'s sampling (``family``
    ``cosmos3``: the Cosmos 3 guide's system prompt and reasoning instruction)."""
    text = prompt_text(item.question, item.index2ans, settings.answer_type, family)
    messages = (
        ChatMessage("system", (TextPart(system_prompt(family)),)),
        ChatMessage("user", (VideoPart(0), TextPart(text))),
    )
    return GenerationRequest(
        messages=messages,
        clips=(clip,),
        sampling=settings.sampling(retry),
        answer_format=None,
        constrained=False,
    )


def ask(
    backend: Backend, item: Item, settings: BenchmarkSettings, patch: int, family: str = ""
) -> dict[str, Any]:
    """Ask ``item``, retrying empty answers as upstream does; the result record."""
    text = prompt_text(item.question, item.index2ans, settings.answer_type, family)
    record: dict[str, Any] = {
        "index": item.index,
        "line": item.line,
        "datasource": item.datasource,
        "video": str(item.video),
        "question": item.question,
        "index2ans": dict(item.index2ans),
        "answer": item.answer,
        "predicted": "",
        "correct": False,
        "reasoning": "",
        "full_response": "",
        "attempts": 0,
        "error": "",
        "prompt": [
            {"role": "system", "content": system_prompt(family)},
            {
                "role": "user",
                "content": [
                    {"type": "video", "video": str(item.video), "fps": settings.fps},
                    {"type": "text", "text": text},
                ],
            },
        ],
    }
    start = time.monotonic()
    try:
        clip = load_video(item.video, settings.fps, patch)
        record.update(frames=len(clip.frames), sample_fps=clip.fps)
        record["frame_size"] = list(clip.frames[0].shape[:2])
        for retry in range(settings.max_retries + 1):
            result = backend.generate(request_for(item, clip, settings, retry, family))
            predicted, reasoning = letter_of(result.text, settings.answer_type, family)
            record.update(attempts=retry + 1, full_response=result.text)
            record.update(prompt_tokens=result.prompt_tokens)
            record.update(generated_tokens=result.generated_tokens)
            if predicted:
                record.update(predicted=predicted, reasoning=reasoning)
                record["correct"] = predicted.lower() == item.answer.lower()
                break
    except (BenchmarkError, BackendError) as err:
        record["error"] = str(err)
        _LOG.warning("item %d (line %d) failed: %s", item.index, item.line, err)
    record["seconds"] = round(time.monotonic() - start, 3)
    return record


if __name__ == "__main__":
    sys.exit(main())
