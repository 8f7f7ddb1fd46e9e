"""trtllm-serve as the loopback server (``openai_server``) plays it: ``TrtllmServe``.

trtllm-serve needs a GPU, so tests run this fake of it instead. It checks a chat request as
trtllm-serve does, renders the conversation it would hand to the chat template, and loads
videos as it would; the scripted ``Reply`` still writes the answer. Modelled on
NVIDIA/TensorRT-LLM:

- ``tensorrt_llm/serve/openai_protocol.py`` @ 0076e939 (release "main") and @ 54cf7be0 (release
  "1.1"): ``ChatCompletionRequest``, ``ResponseFormat``, ``StreamOptions`` (pydantic,
  ``extra="forbid"``), their ``mode="before"`` validators, and ``ModelCard.owned_by``.
- ``tensorrt_llm/serve/openai_server.py``: ``/version``; the ``RequestValidationError``
  handler, which answers 400 ``{"error": str(exc)}``; ``openai_chat``, which answers any later
  failure with ``create_error_response(str(e))`` (400, an ``ErrorResponse``).
- ``tensorrt_llm/serve/chat_utils.py``: ``parse_chat_message_content_parts`` and
  ``parse_chat_messages_coroutines``; ``tensorrt_llm/inputs/utils.py``:
  ``add_multimodal_placeholders``; the placeholder registrations in ``modeling_qwen2vl.py``,
  ``modeling_qwen3vl.py`` and ``modeling_cosmos3.py``.
- ``tensorrt_llm/inputs/media_io.py`` @ 0142b193: ``VideoMediaIO`` (defaults, ``merge_kwargs``),
  ``BaseMediaIO.async_load`` (data URLs) and ``_load_video_by_cv2`` (which frames are kept).

``str(exc)`` is FastAPI's: TensorRT-LLM pins FastAPI 0.115.4, later >=0.120.1,<=0.121.3, where
``RequestValidationError`` has no ``__str__`` (FastAPI 0.124 added one), so the text is the
Python repr of the error list, e.g. ``[{'type': 'extra_forbidden', 'loc': ('body',
'continue_final_message'), 'msg': 'Extra inputs are not permitted', 'input': True}]``; the
pydantic models here give those errors. What it does not model: http(s) and file URLs (it
loads data URLs), audio and image embeddings, tool calls, the ``top_logprobs`` limit of main's
``check_logprobs_limit``, ``thinking_token_budget``'s validator, and nested message types (a
message is any JSON object).
"""

from __future__ import annotations

import base64
import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import xgrammar as xgr
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cosmos_reason_ros.testing.openai_replies import LoadedVideo, Reply

__all__ = ["ParsedChat", "RequestRefused", "TrtllmServe"]

IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
VIDEO_PLACEHOLDER = "<|vision_start|><|video_pad|><|vision_end|>"

# Placeholder separator per model type; all place placeholders BEFORE_TEXT, in STRING content
# format, not interleaved (modeling_qwen2vl.py, modeling_qwen3vl.py, modeling_cosmos3.py).
SEPARATORS = {
    "qwen2_vl": "\n",
    "qwen2_5_vl": "\n",
    "qwen3_vl": "",
    "cosmos3": "",
    "cosmos3_omni": "",
}

# The keyword arguments each MediaIO class takes (media_io.py): others raise TypeError.
_MEDIA_IO_ARGS = {
    "image": frozenset({"format", "device"}),
    "video": frozenset({"num_frames", "fps", "format", "device", "extract_audio", "hash_source"}),
}


class RequestRefused(ValueError):
    """A request trtllm-serve refuses after validation: ``openai_chat`` answers 400 with it."""


@dataclass(frozen=True)
class ParsedChat:
    """A chat request as trtllm-serve parsed it.

    Attributes:
        rendered: (role, content) per message, placeholders in place.
        videos: Each video as loaded, in order.
        images: How many images were loaded.
    """

    rendered: tuple[tuple[str, str], ...]
    videos: tuple[LoadedVideo, ...]
    images: int


@dataclass(frozen=True)
class TrtllmServe:
    """The trtllm-serve behaviour ``ChatCompletionsServer(engine=...)`` plays.

    Immutable, so one instance serves any number of requests on any threads.

    Args:
        release: ``"main"`` (openai_protocol.py @ 0076e939) or ``"1.1"`` (@ 54cf7be0): which
            request fields and ``response_format`` types it accepts.
        model_type: The served model's Hugging Face ``model_type``; picks the placeholders'
            separator (one of ``SEPARATORS``).
        media_io_kwargs: The server's ``--media_io_kwargs`` (``{}``: none given).
        version: What ``GET /version`` says; None: ``release``.
    """

    release: Literal["main", "1.1"] = "main"
    model_type: str = "qwen2_5_vl"
    media_io_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    version: str | None = None

    def __post_init__(self) -> None:
        if self.release not in _REQUEST_MODELS:
            raise ValueError(f"release must be one of {sorted(_REQUEST_MODELS)}: {self.release!r}")
        if self.model_type not in SEPARATORS:
            raise ValueError(
                f"model_type must be one of {sorted(SEPARATORS)}: {self.model_type!r}"
            )

    def version_body(self) -> dict[str, str]:
        """The body of ``GET /version``."""
        return {"version": self.version or self.release}

    def model_card(self, model_id: str, created: int) -> dict[str, Any]:
        """One ``ModelCard`` of ``GET /v1/models``."""
        return {"id": model_id, "object": "model", "created": created, "owned_by": "tensorrt_llm"}

    def validation_error(self, raw: bytes) -> str | None:
        """What FastAPI's ``RequestValidationError`` says of the body ``raw``; None: valid."""
        if not raw:
            return str(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as e:
            # fastapi/routing.py: how a body that is not JSON is reported.
            error = {"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error"}
            return str([{**error, "input": {}, "ctx": {"error": e.msg}}])
        try:
            _REQUEST_MODELS[self.release].model_validate(body, from_attributes=True)
        except ValidationError as e:
            return str(
                [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
            )
        return None

    def parse(self, body: Mapping[str, Any]) -> ParsedChat:
        """Render the messages of a valid ``body`` and load their media.

        Raises:
            RequestRefused: Where ``openai_chat`` answers 400 (bad media, unknown part type, ...).
        """
        request_kwargs = body.get("media_io_kwargs") or {}
        rendered: list[tuple[str, str]] = []
        videos: list[LoadedVideo] = []
        images = 0
        try:
            for message in body["messages"]:
                texts, media = _split_parts(message.get("content"))
                counts: dict[str, int] = {}
                for kind, url in media:
                    if kind == "video":
                        videos.append(self._load_video(url, request_kwargs.get("video")))
                    else:
                        # Checked as ImageMediaIO(**kwargs) checks them; it keeps no setting.
                        self._media_io_kwargs("image", request_kwargs.get("image"))
                        _load_image(url)
                        images += 1
                    placeholder = VIDEO_PLACEHOLDER if kind == "video" else IMAGE_PLACEHOLDER
                    counts[placeholder] = counts.get(placeholder, 0) + 1
                rendered.append(
                    (message["role"], self._with_placeholders("\n".join(texts), counts))
                )
        except (KeyError, TypeError, ValueError, NotImplementedError) as e:
            raise RequestRefused(str(e)) from e
        return ParsedChat(tuple(rendered), tuple(videos), images)

    def guide(self, body: Mapping[str, Any]) -> Any:
        """The xgrammar grammar of the request's ``response_format``; None: unguided.

        Raises:
            RequestRefused: It cannot be compiled.
        """
        return _guide(body.get("response_format"))

    def guided(self, body: Mapping[str, Any], grammar: Any, reply: Reply) -> Reply:
        """``reply`` as this server can send it under the request's ``response_format``.

        trtllm-serve compiles the format with xgrammar and never writes text outside it
        (``_response_format_to_guided_decoding_params``; a structural tag goes to xgrammar as
        ``ResponseFormat.model_dump_json``). The scripted ``text`` is sent if the guide accepts
        it (whole, or as the start of a longer text: a stream the client cuts, or one that
        ends at ``max_tokens``), else ``constrained_text`` if that fits; a script with neither
        is a test's mistake, answered 500 naming the guide. A server without
        ``--reasoning_parser`` is modelled: a reply with split-off ``reasoning`` is sent
        unchecked.
        """
        if grammar is None or reply.status != 200 or reply.reasoning:
            return replace(reply, constrained_text=None)
        for text in (reply.text, reply.constrained_text):
            if text is not None and xgr.testing._get_matcher_from_grammar(grammar).accept_string(
                text
            ):
                return replace(reply, text=text, constrained_text=None)
        return Reply.error(
            500, f"stand-in: no scripted text fits response_format {body['response_format']}"
        )

    def _with_placeholders(self, text: str, counts: Mapping[str, int]) -> str:
        """``add_multimodal_placeholders`` for BEFORE_TEXT: placeholders, then the text.

        ``counts`` is upstream's per-message dict, so placeholders come grouped by kind in the
        order each kind first appeared, not interleaved with the text.
        """
        if not counts:
            return text
        parts = [p for p, n in counts.items() for _ in range(n)]
        return SEPARATORS[self.model_type].join([*parts, text])

    def _media_io_kwargs(self, modality: str, request: Mapping[str, Any] | None) -> dict[str, Any]:
        """``BaseMediaIO.create``: the server's kwargs, the request's merged over them."""
        merged = dict(self.media_io_kwargs.get(modality) or {})
        merged.update(request or {})
        if modality == "video" and request:
            # VideoMediaIO.merge_kwargs: overriding one of fps / num_frames drops the other.
            if "num_frames" in request and "fps" not in request:
                merged.pop("fps", None)
            elif "fps" in request and "num_frames" not in request:
                merged.pop("num_frames", None)
        for key in merged:
            if key not in _MEDIA_IO_ARGS[modality]:
                cls = "VideoMediaIO" if modality == "video" else "ImageMediaIO"
                raise TypeError(f"{cls}.__init__() got an unexpected keyword argument '{key}'")
        return merged

    def _load_video(self, url: str, request: Mapping[str, Any] | None) -> LoadedVideo:
        kwargs = self._media_io_kwargs("video", request)
        data = _data_url_bytes(url)
        with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
            tmp.write(data)
            tmp.flush()
            return _load_video_by_cv2(
                tmp.name, kwargs.get("num_frames", 10), kwargs.get("fps", 30)
            )


def _guide(response_format: Any) -> Any:
    """The xgrammar grammar trtllm-serve builds from ``response_format``; None: unguided.

    Raises:
        RequestRefused: It cannot be compiled.
    """
    if not response_format or response_format.get("type") == "text":
        return None
    kind = response_format["type"]
    try:
        if kind == "structural_tag":
            return xgr.Grammar.from_structural_tag(json.dumps(response_format))
        if kind == "json_schema":
            schema = response_format["json_schema"]
            return xgr.Grammar.from_json_schema(json.dumps(schema.get("schema", schema)))
        if kind == "json":
            return xgr.Grammar.from_json_schema(json.dumps(response_format["schema"]))
        if kind == "json_object":
            return xgr.Grammar.builtin_json_grammar()
        if kind == "regex":
            return xgr.Grammar.from_regex(response_format["regex"])
        return xgr.Grammar.from_ebnf(response_format["ebnf"])
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise RequestRefused(f"response_format cannot be compiled: {e}") from e


def _split_parts(content: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """``parse_chat_message_content_parts``: a message's texts and (modality, url) media, in order.

    Parts that parse to nothing (no text, no url, an empty string) are skipped, as upstream does.
    """
    if content is None:
        content = []
    elif isinstance(content, str):
        content = [{"type": "text", "text": content}]
    texts: list[str] = []
    media: list[tuple[str, str]] = []
    for part in content:
        if isinstance(part, str):
            parsed: Any = part
            kind = "text"
        else:
            kind = part.get("type")
            if not isinstance(kind, str):
                raise ValueError("Invalid 'type' field in multimodal part.")
            if kind == "text":
                parsed = part.get("text")
            elif kind in ("image_url", "video_url"):
                parsed = (part.get(kind) or {}).get("url")
            else:
                raise NotImplementedError(f"Unknown part type: {kind}")
        if not parsed:
            continue
        if kind == "text":
            texts.append(parsed)
        else:
            media.append(("video" if kind == "video_url" else "image", parsed))
    return texts, media


def _data_url_bytes(url: str) -> bytes:
    """``BaseMediaIO.async_load`` for a ``data:`` URL: the decoded payload."""
    parsed = urlparse(url)
    if parsed.scheme != "data":
        raise NotImplementedError(
            f"the trtllm-serve stand-in loads data: URLs only, not {url[:40]!r}"
        )
    data_spec, b64_data = parsed.path.split(",", 1)
    parts = data_spec.split(";", 1)
    if (parts[1] if len(parts) > 1 else "") != "base64":
        raise NotImplementedError("Only base64 data URLs are supported for now.")
    return base64.b64decode(b64_data)


def _load_image(url: str) -> None:
    """Decode an image as ``ImageMediaIO`` would, refusing what does not decode."""
    import cv2
    import numpy as np

    if cv2.imdecode(np.frombuffer(_data_url_bytes(url), np.uint8), cv2.IMREAD_COLOR) is None:
        raise ValueError("cannot identify image file")


def _load_video_by_cv2(path: str, num_frames: int, fps: float) -> LoadedVideo:
    """``_load_video_by_cv2`` (media_io.py @ 0142b193): the frames it keeps and their size."""
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise ValueError(
                f"Video '{path}' could not be opened. Make sure opencv is installed with video "
                "support."
            )
        frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        original_fps = float(cap.get(cv2.CAP_PROP_FPS))
        if frame_count <= 0 or original_fps <= 0:
            raise ValueError("Video has no frames or invalid FPS.")
        duration = frame_count / original_fps
        n = frame_count
        if num_frames > 0:
            n = min(num_frames, frame_count)
        if fps > 0:
            n = min(n, math.floor(duration * fps))
        n = max(1, n)
        indices: list[int] = np.linspace(0, frame_count - 1, n, dtype=int).tolist()
        targets = set(indices)
        sizes: dict[int, tuple[int, int]] = {}
        index = 0
        while index <= indices[-1] and cap.grab():  # a forward scan, as upstream reads
            if index in targets:
                ok, frame = cap.retrieve()
                if ok:
                    sizes[index] = (int(frame.shape[0]), int(frame.shape[1]))
            index += 1
    finally:
        cap.release()
    if not sizes:
        raise ValueError("Video has no readable frames.")
    kept = [i for i in indices if i in sizes]
    height, width = sizes[kept[0]]
    return LoadedVideo(frames=len(kept), height=height, width=width, fps=original_fps)


# -- openai_protocol.py's request models, loosely typed where the stand-in does not look --------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _StreamOptions(_Strict):
    include_usage: bool | None = True
    continuous_usage_stats: bool | None = None


class _ResponseFormat11(BaseModel):
    # ``schema`` shadows a BaseModel attribute: here it is an alias, refused by its field name.
    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "json", "json_object", "regex", "ebnf", "structural_tag"]
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    regex: str | None = None
    ebnf: str | None = None
    format: Any = None


class _ResponseFormatMain(_ResponseFormat11):
    type: Literal[  # type: ignore[assignment]
        "text", "json", "json_schema", "json_object", "regex", "ebnf", "structural_tag"
    ]
    json_schema: dict[str, Any] | None = None


# ``ReasoningEffort`` (openai_harmony) or "low" / "medium" / "high".
_Effort = Literal["low", "medium", "high", "Low", "Medium", "High"]


class _ChatCompletionRequest11(_Strict):
    messages: list[dict[str, Any]]
    prompt_token_ids: list[int] | None = None
    model: str
    frequency_penalty: float | None = 0.0
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = 0
    max_completion_tokens: int | None = Field(default=None, validation_alias="max_tokens")
    n: int = 1
    presence_penalty: float | None = 0.0
    response_format: _ResponseFormat11 | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: _StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["none", "auto"] | dict[str, Any] | None = "none"
    user: str | None = None
    reasoning_effort: _Effort | None = "low"
    best_of: int | None = None
    use_beam_search: bool = False
    top_k: int = 0
    top_p_min: float = 0.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    early_stopping: bool = False
    stop_token_ids: list[int] | None = None
    include_stop_str_in_output: bool = False
    ignore_eos: bool = False
    min_tokens: int = 0
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    truncate_prompt_tokens: Annotated[int, Field(ge=1)] | None = None
    lora_request: Any = None
    echo: bool = False
    add_generation_prompt: bool = True
    add_special_tokens: bool = False
    documents: list[dict[str, str]] | None = None
    chat_template: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    disaggregated_params: dict[str, Any] | None = None
    cache_salt: str | None = None

    # The validators, as upstream writes them (a non-object body skips them, not a 500).
    @model_validator(mode="before")
    @classmethod
    def validate_stream_options(cls, data: Any) -> Any:
        stream_options = isinstance(data, dict) and data.get("stream_options") is not None
        if stream_options and not data.get("stream"):
            raise ValueError("stream_options can only be set if stream is true")
        return data

    @model_validator(mode="before")
    @classmethod
    def check_tool_choice(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "tool_choice" not in data and data.get("tools"):
            data["tool_choice"] = "auto"
        choice = "tool_choice" in data and data["tool_choice"] != "none"
        if choice and ("tools" not in data or data["tools"] is None):
            raise ValueError("When using `tool_choice`, `tools` must be set.")
        return data

    @model_validator(mode="before")
    @classmethod
    def check_logprobs(cls, data: Any) -> Any:
        if isinstance(data, dict) and (top_logprobs := data.get("top_logprobs")) is not None:
            if isinstance(top_logprobs, int) and top_logprobs < 0:
                raise ValueError("top_logprobs must be positive or zero")
            if not data.get("logprobs"):
                raise ValueError("logprobs must be true when using top_logprobs")
        return data

    @model_validator(mode="before")
    @classmethod
    def check_suffix(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("suffix"):
            raise ValueError("suffix is not supported")
        return data

    @field_validator("cache_salt")
    @classmethod
    def check_cache_salt_support(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("Parameter 'cache_salt' must be a non-empty string if provided.")
        return v


class _ChatCompletionRequestMain(_ChatCompletionRequest11):
    prompt_token_ids_b64: str | None = None
    response_format: _ResponseFormatMain | None = None  # type: ignore[assignment]
    thinking_token_budget: int | None = None
    prompt_ignore_length: int | None = 0
    media_io_kwargs: dict[Literal["image", "video", "audio"], dict[str, Any]] | None = None
    conversation_params: dict[str, Any] | None = None
    agent_hierarchy: Any = None
    mm_processor_kwargs: dict[str, Any] | None = None


_REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "main": _ChatCompletionRequestMain,
    "1.1": _ChatCompletionRequest11,
}
