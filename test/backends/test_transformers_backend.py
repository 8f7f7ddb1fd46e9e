"""TransformersBackend on the tiny checkpoints, on the CPU: the real transformers paths."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cosmos_reason_ros.backends import BackendConfig, create_backend
from cosmos_reason_ros.backends.transformers.backend import TransformersBackend, _build_inputs
from cosmos_reason_ros.core.errors import BackendError, GenerationCancelled
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.testing.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_reason1"), arch="qwen2_5_vl")


@pytest.fixture(scope="module")
def backend(model_dir: Path) -> Iterator[TransformersBackend]:
    loaded = TransformersBackend(BackendConfig(model=str(model_dir), device="cpu", dtype="fp32"))
    loaded.load()
    yield loaded
    loaded.close()


def make_clip(side: int = 56, frames: int = 4, fps: float = 4.0, width: int = 2) -> Clip:
    rng = np.random.default_rng(7)
    images = tuple(
        rng.integers(0, 256, (side, side * width, 3), dtype=np.uint8) for _ in range(frames)
    )
    stamps = tuple(int(i * 1e9 / fps) for i in range(frames))
    return Clip("front", "camera", images, stamps, fps)


def make_request(**kwargs: object) -> GenerationRequest:
    defaults: dict[str, object] = {
        "messages": (
            ChatMessage("system", (TextPart("You drive a robot."),)),
            ChatMessage("user", (VideoPart(0), TextPart("What should the robot do next?"))),
        ),
        "clips": (make_clip(),),
        "sampling": SamplingSettings(temperature=0.8, max_new_tokens=12, seed=5),
    }
    defaults.update(kwargs)
    return GenerationRequest(**defaults)  # type: ignore[arg-type]


def test_registry_creates_the_transformers_backend(model_dir: Path) -> None:
    created = create_backend(BackendConfig(backend="transformers", model=str(model_dir)))
    assert isinstance(created, TransformersBackend)
    assert created.describe().loaded is False


def test_describe_reports_architecture_device_dtype_once_loaded(
    backend: TransformersBackend, model_dir: Path
) -> None:
    info = backend.describe()
    assert (info.backend, info.model, info.architecture) == (
        "transformers",
        str(model_dir),
        "qwen2_5_vl",
    )
    assert (info.device, info.dtype, info.quantization, info.loaded) == (
        "cpu",
        "fp32",
        "none",
        True,
    )
    assert info.gpu_memory_bytes is None


def test_fp32_generation_on_cpu_reports_tokens_and_timings(backend: TransformersBackend) -> None:
    result = backend.generate(make_request())
    assert result.generated_tokens == 12
    # 4 frames of 56x112 -> 2 temporal x 4 x 8 patches / 2x2 merge = 16 video tokens.
    assert result.prompt_tokens > 16
    assert 0 < result.time_to_first_token_s <= result.total_s
    assert 0 < result.preprocess_s < result.total_s
    assert result.text


def test_video_keeps_the_window_frame_size(backend: TransformersBackend) -> None:
    text_only = make_request(
        messages=(ChatMessage("user", (TextPart("What should the robot do next?"),)),), clips=()
    )
    with_video = make_request(
        messages=(ChatMessage("user", (VideoPart(0), TextPart("What should the robot do next?"))),)
    )
    difference = (
        backend.generate(with_video).prompt_tokens - backend.generate(text_only).prompt_tokens
    )
    assert difference == 16 + 2  # video tokens + <|vision_start|> + <|vision_end|>


@pytest.fixture(scope="module")
def reason2_processor(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoProcessor

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny_reason2"), arch="qwen3_vl")
    return AutoProcessor.from_pretrained(folder)


def video_request(clip: Clip) -> GenerationRequest:
    return make_request(
        messages=(ChatMessage("user", (VideoPart(0), TextPart("Next?"))),), clips=(clip,)
    )


def test_reason1_inputs_carry_the_clip_sampling_rate(backend: TransformersBackend) -> None:
    processor = backend._processor  # the loaded processor: what generate() uses
    inputs = _build_inputs(processor, video_request(make_clip(fps=2.0)), "cpu")
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 8]]
    assert inputs["second_per_grid_ts"].tolist() == [pytest.approx(1.0)]  # 2 frames / 2 fps


def test_reason2_prompt_has_timestamps_from_the_clip_fps_and_keeps_frame_size(
    reason2_processor: Any,
) -> None:
    inputs = _build_inputs(reason2_processor, video_request(make_clip(64, fps=1.0)), "cpu")
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 8]]  # 64x128 / 16-px patches
    prompt = reason2_processor.tokenizer.decode(inputs["input_ids"][0])
    assert "<0.5 seconds>" in prompt and "<2.5 seconds>" in prompt  # frames 0-1, 2-3 at 1 fps


def test_single_frame_clip_is_padded_to_the_temporal_patch(reason2_processor: Any) -> None:
    inputs = _build_inputs(reason2_processor, video_request(make_clip(64, frames=1)), "cpu")
    assert inputs["video_grid_thw"].tolist() == [[1, 4, 8]]


def test_frames_off_the_patch_grid_are_fitted_to_it(reason2_processor: Any) -> None:
    inputs = _build_inputs(reason2_processor, video_request(make_clip(70, width=1)), "cpu")
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 4]]  # 70 px -> 64 px


def test_same_seed_gives_the_same_text(backend: TransformersBackend) -> None:
    assert backend.generate(make_request()).text == backend.generate(make_request()).text


def test_streaming_delivers_exactly_the_non_streaming_text(backend: TransformersBackend) -> None:
    deltas: list[tuple[str, int]] = []
    streamed = backend.generate(make_request(on_text=lambda d, n: deltas.append((d, n))))
    plain = backend.generate(make_request())
    assert "".join(d for d, _ in deltas) == streamed.text == plain.text
    counts = [n for _, n in deltas]
    assert counts == sorted(counts) and counts[-1] <= streamed.generated_tokens


def test_cancel_from_on_text_stops_early_and_raises(backend: TransformersBackend) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def on_text(delta: str, tokens: int) -> None:
        seen.append(tokens)
        if tokens >= 3:
            cancel.set()

    request = make_request(
        on_text=on_text,
        cancel=cancel,
        sampling=SamplingSettings(temperature=0.8, max_new_tokens=200, seed=5),
    )
    with pytest.raises(GenerationCancelled, match=r"generation cancelled after \d+ tokens"):
        backend.generate(request)
    assert 3 <= max(seen) <= 8


def test_cancel_set_before_start_raises_without_generating(backend: TransformersBackend) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GenerationCancelled, match="before it started"):
        backend.generate(make_request(cancel=cancel, on_text=lambda d, n: pytest.fail("ran")))


def test_placeholder_for_a_missing_clip_is_a_backend_error(backend: TransformersBackend) -> None:
    request = make_request(messages=(ChatMessage("user", (VideoPart(1),)),))
    with pytest.raises(BackendError, match=r"refers to clip 1 but the request has 1 clip\(s\)"):
        backend.generate(request)


def test_errors_inside_preprocessing_or_generation_become_backend_errors(
    backend: TransformersBackend,
) -> None:
    good = make_clip()
    ragged = Clip("front", "camera", (*good.frames[:3], good.frames[3][:28]), good.stamps_ns, 4.0)
    with pytest.raises(BackendError, match=r"^generation failed: ValueError: "):
        backend.generate(make_request(clips=(ragged,)))


def test_tiny_frames_are_scaled_up_to_one_patch_group_instead_of_failing(
    backend: TransformersBackend,
) -> None:
    assert backend.generate(make_request(clips=(make_clip(side=10, width=1),))).text


@pytest.mark.parametrize("quantization", ["8bit", "4bit"])
def test_bitsandbytes_quantized_model_generates_on_cpu(model_dir: Path, quantization: str) -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"bitsandbytes cannot run here: {exc}")
    quantized = TransformersBackend(
        BackendConfig(model=str(model_dir), device="cpu", quantization=quantization)
    )
    quantized.load()
    try:
        result = quantized.generate(make_request(sampling=SamplingSettings(0.0, max_new_tokens=4)))
        info = quantized.describe()
    finally:
        quantized.close()
    assert result.generated_tokens == 4
    assert info.quantization == quantization


def test_generate_before_load_is_a_backend_error(model_dir: Path) -> None:
    fresh = TransformersBackend(BackendConfig(model=str(model_dir), device="cpu"))
    with pytest.raises(BackendError, match=r"not loaded; call load\(\) first"):
        fresh.generate(make_request())


def test_close_is_idempotent_and_unloads(model_dir: Path) -> None:
    closing = TransformersBackend(BackendConfig(model=str(model_dir), device="cpu"))
    closing.load()
    closing.close()
    closing.close()
    assert closing.describe().loaded is False
    with pytest.raises(BackendError, match="not loaded"):
        closing.generate(make_request())


def _broken_copy(model_dir: Path, tmp_path: Path, how: str) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    if how == "no config":
        (broken / "config.json").unlink()
    elif how == "bad config":
        (broken / "config.json").write_text("{ not json")
    elif how == "no weights":
        (broken / "model.safetensors").unlink()
    elif how == "corrupt weights":
        weights = broken / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000])
    return broken


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("no config", "has no config.json: not a checkpoint folder"),
        ("bad config", "has an unreadable config.json: "),
        ("no weights", r"has no \*\.safetensors weights"),
        ("corrupt weights", "could not be loaded: SafetensorError: "),
    ],
)
def test_broken_model_folder_is_a_backend_error_naming_folder_and_fault(
    model_dir: Path, tmp_path: Path, how: str, message: str
) -> None:
    broken = _broken_copy(model_dir, tmp_path, how)
    backend = TransformersBackend(BackendConfig(model=str(broken), device="cpu"))
    with pytest.raises(BackendError, match=f"^model folder {broken} {message}"):
        backend.load()
    assert backend.describe().loaded is False


def test_missing_model_folder_is_a_backend_error(tmp_path: Path) -> None:
    backend = TransformersBackend(BackendConfig(model=str(tmp_path / "absent"), device="cpu"))
    with pytest.raises(BackendError, match=f"^model folder {tmp_path / 'absent'} does not exist$"):
        backend.load()
