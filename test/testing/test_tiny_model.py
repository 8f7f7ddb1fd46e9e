"""The tiny test checkpoint: real architectures, small, deterministic, loadable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cosmos_reason_ros.backends import BackendConfig
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.testing.tiny_model import ARCHS, build_tiny_model, main

REAL_CLASSES = {
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
    "cosmos3_omni": "Cosmos3ForConditionalGeneration",  # as published (TensorRT-LLM, vLLM)
    "cosmos3_edge": "Cosmos3EdgeForConditionalGeneration",
}
FRAME_SIDE = {  # one merged patch is 28 / 32 pixels
    "qwen2_5_vl": 56,
    "qwen3_vl": 64,
    "cosmos3_omni": 64,
    "cosmos3_edge": 64,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {a: build_tiny_model(tmp_path_factory.mktemp(a), arch=a) for a in ARCHS}


@pytest.mark.parametrize("arch", ARCHS)
def test_checkpoint_names_the_real_architecture_and_model_type(
    built: dict[str, Path], arch: str
) -> None:
    config = json.loads((built[arch] / "config.json").read_text())
    assert config["architectures"] == [REAL_CLASSES[arch]]
    assert config["model_type"] == arch
    assert list(built[arch].glob("*.safetensors")) == [built[arch] / "model.safetensors"]


@pytest.mark.parametrize("arch", ARCHS)
def test_checkpoint_is_under_5_mb_with_widths_of_at_least_64(
    built: dict[str, Path], arch: str
) -> None:
    size = sum(f.stat().st_size for f in built[arch].iterdir())
    config = json.loads((built[arch] / "config.json").read_text())
    assert size < 5_000_000
    assert config["text_config"]["hidden_size"] >= 64
    assert config["vision_config"]["hidden_size"] >= 64


def test_same_seed_gives_the_same_weight_bytes_and_another_seed_does_not(
    built: dict[str, Path], tmp_path: Path
) -> None:
    again = build_tiny_model(tmp_path / "again", arch="qwen2_5_vl", seed=0)
    other = build_tiny_model(tmp_path / "other", arch="qwen2_5_vl", seed=1)
    weights = (built["qwen2_5_vl"] / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == weights
    assert (again / "tokenizer.json").read_bytes() == (
        built["qwen2_5_vl"] / "tokenizer.json"
    ).read_bytes()
    assert (other / "model.safetensors").read_bytes() != weights


def test_model_vocabulary_is_padded_past_the_tokenizer_like_real_checkpoints(
    built: dict[str, Path],
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built["qwen2_5_vl"])
    config = json.loads((built["qwen2_5_vl"] / "config.json").read_text())
    assert config["text_config"]["vocab_size"] > len(tokenizer)
    assert config["video_token_id"] == tokenizer.convert_tokens_to_ids("<|video_pad|>")


@pytest.mark.parametrize("arch", ARCHS)
def test_byte_level_tokenizer_round_trips_any_text(built: dict[str, Path], arch: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built[arch])
    text = '{"action": "stop", "reason": "Über 漢字 \\u00e9 \t\x01 🙂"}</think>'
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text


def test_qwen3_tokenizer_has_the_thinking_markers_as_added_tokens(
    built: dict[str, Path],
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built["qwen3_vl"])
    assert len(tokenizer.encode("</think>", add_special_tokens=False)) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_chat_template_renders_turns_video_and_generation_prompt(
    built: dict[str, Path], arch: str
) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(built[arch])
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Next?"}]},
    ]
    prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Next?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_reason1_template_adds_the_default_system_turn_like_qwen2_5_vl(
    built: dict[str, Path],
) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(built["qwen2_5_vl"])
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=False
    )
    assert prompt == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_checkpoint_loads_through_the_backend_and_generates_from_a_video(
    built: dict[str, Path], arch: str
) -> None:
    from cosmos_reason_ros.backends.transformers.backend import TransformersBackend

    side = FRAME_SIDE[arch]
    frames = tuple(np.full((side, side, 3), 40 * i, dtype=np.uint8) for i in range(4))
    clip = Clip("cam", "camera", frames, (0, 250_000_000, 500_000_000, 750_000_000), 4.0)
    request = GenerationRequest(
        messages=(ChatMessage("user", (VideoPart(0), TextPart("What next?"))),),
        clips=(clip,),
        sampling=SamplingSettings(temperature=0.0, max_new_tokens=5),
    )
    backend = TransformersBackend(BackendConfig(model=str(built[arch]), device="cpu"))
    backend.load()
    try:
        result = backend.generate(request)
        info = backend.describe()
    finally:
        backend.close()
    assert result.generated_tokens == 5
    assert info.architecture == arch


def test_command_line_writes_a_checkpoint_and_prints_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "cli"), "--arch", "qwen3_vl", "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli")
    config = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl"


def test_unknown_architecture_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match="arch must be one of qwen2_5_vl, qwen3_vl, cosmos3_omni, cosmos3_edge; got 'llama'",
    ):
        build_tiny_model(tmp_path, arch="llama")


def test_edge_tokenizer_has_the_special_tokens_at_the_ids_its_config_names(
    built: dict[str, Path],
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built["cosmos3_edge"])
    config = json.loads((built["cosmos3_edge"] / "config.json").read_text())
    for key, token in (
        ("image_token_id", "<|image_pad|>"),
        ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"),
        ("vision_end_token_id", "<|vision_end|>"),
    ):
        assert tokenizer.convert_tokens_to_ids(token) == config[key]
    assert tokenizer.eos_token_id == config["text_config"]["eos_token_id"] == 11
    assert tokenizer.pad_token_id == config["text_config"]["pad_token_id"] == 0
