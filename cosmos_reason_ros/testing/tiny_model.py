"""A tiny, random-weight checkpoint of the real Cosmos-Reason architectures, for tests.

``build_tiny_model`` writes a folder that loads like ``nvidia/Cosmos-Reason1-7B`` (Qwen2.5-VL),
a Cosmos-Reason2 checkpoint (Qwen3-VL), ``nvidia/Cosmos3-Nano`` / ``Cosmos3-Super``
(``cosmos3_omni``: ``Cosmos3OmniConfig`` with Qwen3-VL sub-configs, loaded by
``Cosmos3OmniForConditionalGeneration``, which ``AutoModelForImageTextToText`` also resolves
to) or ``nvidia/Cosmos3-Edge`` (``cosmos3_edge``: ``Cosmos3EdgeForConditionalGeneration`` with
its own processor) through ``AutoProcessor`` and ``AutoModelForImageTextToText``: the real
model classes with tiny widths (>= 64, so bitsandbytes 4-bit works), image and video processor
configs, and a tokenizer and chat template as the published ones are:

- a byte-level BPE vocabulary trained here on a few sentences (it covers every byte, so a
  grammar can spell any JSON string), followed by the published added tokens in the published
  order, each flagged special or not as the published tokenizer flags it (Qwen2.5-VL: 14
  special, 8 not; Qwen3-VL adds ``<tool_response>``, ``</tool_response>``, ``<think>`` and
  ``</think>``, none special), eos ``<|im_end|>``, pad ``<|endoftext|>``, no bos, and
  Qwen2.5-VL's 13 additional special tokens; constrained decoding (xgrammar) therefore sees the
  same special/added roles as with the real checkpoints;
- the published chat template, byte for byte (``chat_templates/``, provenance in
  ``chat_templates/PROVENANCE.md``);
- Cosmos 3 (transformers 5.25 ``models/cosmos3_omni``, ``models/cosmos3_edge``): Nano / Super
  keep the Qwen3-VL tokenizer layout and token ids (``Cosmos3OmniConfig`` defaults 151652-151656
  are Qwen's); Edge's tokenizer puts its special tokens at the ids ``Cosmos3EdgeConfig``
  declares (pad 0, bos 1, eos 11, ``<|video_pad|>`` 18, ``<|image_pad|>`` 19,
  ``<|vision_start|>`` 20, ``<|vision_end|>`` 21) and its processor writes a timestamp before
  every frame. Neither published Cosmos 3 chat template could be read here: both ship the
  Qwen3-VL Instruct template, whose video placeholder is the one TensorRT-LLM
  (``modeling_cosmos3.py``) and vLLM (``cosmos3_edge.py``) expect (PROVENANCE.md).

Its output is noise; that is what parsing and fallback code must survive.

Command line::

    python -m cosmos_reason_ros.testing.tiny_model OUT_DIR \
        [--arch qwen2_5_vl|qwen3_vl|cosmos3_omni|cosmos3_edge] [--seed N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ARCHS = ("qwen2_5_vl", "qwen3_vl", "cosmos3_omni", "cosmos3_edge")

_LOG = logging.getLogger(__name__)

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Added tokens flagged special in both published tokenizers, in id order after the vocabulary."""
ADDED_TOKENS = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
"""Added tokens not flagged special (Qwen2.5-VL and Qwen3-VL), after ``SPECIAL_TOKENS``."""
QWEN3_ADDED_TOKENS = ("<tool_response>", "</tool_response>", "<think>", "</think>")
"""Qwen3-VL's further added tokens, not special: the reasoning markers are text."""

EDGE_SPECIAL_IDS = {
    "<unk>": 0,
    "<s>": 1,
    "</s>": 2,
    "<|im_start|>": 10,
    "<|im_end|>": 11,
    "<|video_pad|>": 18,
    "<|image_pad|>": 19,
    "<|vision_start|>": 20,
    "<|vision_end|>": 21,
}
"""Cosmos3-Edge's special tokens by id: pad 0, bos 1, eos 11 and the four vision ids are
``Cosmos3EdgeConfig``'s defaults (transformers 5.25); the names of 0, 1, 2, 10 and 11 follow
the Nemotron-H tokenizer its text model comes from (inferred, not read from the checkpoint).
The other ids below ``EDGE_SPECIAL_COUNT`` are reserved ``<SPECIAL_n>`` tokens."""
EDGE_SPECIAL_COUNT = 32

TEMPLATES = Path(__file__).with_name("chat_templates")
"""The vendored published chat templates (``<name>.jinja``; see PROVENANCE.md there)."""
_TEMPLATE_OF = {
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "cosmos3_omni": "qwen3_vl",
    "cosmos3_edge": "qwen3_vl",
}
_MODEL_MAX_LENGTH = {
    "qwen2_5_vl": 131072,
    "qwen3_vl": 262144,
    "cosmos3_omni": 262144,
    "cosmos3_edge": 131072,
}

_CORPUS = (
    "<think>\nThe robot sees an open corridor ahead, so it should move forward.\n</think>\n\n"
    '<answer>\n{"action": "move_forward", "target": "door", "confidence": 0.8, '
    '"reason": "the path is clear"}\n</answer>',
    '{"action": "stop", "target": "", "confidence": 0.5, "reason": "a person is close"}',
    '{"action": "turn_left", "target": "shelf", "parameters": {"distance_m": "0.5"}}',
    '{"action": "turn_right", "target": "wall", "confidence": 1.0, "reason": "blocked"}',
    "think answer action target reason confidence parameters wait pick_up place",
    "What should the robot do next? Answer the question using the following format.",
    "Write your final answer immediately after the </think> tag. (A) stop (B) go",
    "The camera shows a table, a cup, a box and a person walking to the left.",
    '0123456789 true false null [ ] { } : , " . - _ ? !',
)


def published_chat_template(arch: str) -> str:
    """The published chat template of ``arch`` (vendored bytes, decoded as UTF-8).

    Raises:
        ValueError: ``arch`` is not one of ``ARCHS``.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    return (TEMPLATES / f"{_TEMPLATE_OF[arch]}.jinja").read_bytes().decode("utf-8")


_TEXT_WIDTH = 128
_COSMOS3_POSITIONS = 32768
"""Cosmos 3 tiny models' context: the family's default answer budget (4096 new tokens) and a
full default window fit, as they do in the published 128k / 256k contexts."""
_VOCAB_TARGET = 512


def build_tiny_model(out_dir: str | Path, arch: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """Write a tiny random-weight checkpoint of ``arch`` to ``out_dir`` and return the folder.

    The same ``seed`` gives the same weight bytes. Takes a second or two and under 5 MB.

    Args:
        out_dir: Folder to write (created if missing; existing files are overwritten).
        arch: ``qwen2_5_vl`` (Cosmos-Reason1 layout), ``qwen3_vl`` (Cosmos-Reason2 layout),
            ``cosmos3_omni`` (Cosmos3-Nano / Super reasoner) or ``cosmos3_edge`` (Cosmos3-Edge).
        seed: Seed of the random weights.

    Returns:
        The folder, loadable with ``AutoProcessor`` and ``AutoModelForImageTextToText``.

    Raises:
        ValueError: ``arch`` is not one of ``ARCHS``.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    import torch

    start = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _edge_tokenizer() if arch == "cosmos3_edge" else _train_tokenizer(arch)
    # Real checkpoints pad the embedding past the tokenizer; so does this one.
    vocab_size = (len(tokenizer) // 64 + 1) * 64
    torch.manual_seed(seed)
    if arch == "cosmos3_edge":
        model = _edge_model(vocab_size).to(torch.bfloat16).eval()
        model.generation_config.eos_token_id = [EDGE_SPECIAL_IDS["<|im_end|>"]]
        model.generation_config.pad_token_id = EDGE_SPECIAL_IDS["<unk>"]
        model.generation_config.bos_token_id = EDGE_SPECIAL_IDS["<s>"]
    else:
        ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
        config = _model_config(arch, vocab_size, ids)
        model = _model_class(arch)(config).to(torch.bfloat16).eval()
        model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
        model.generation_config.pad_token_id = ids["<|endoftext|>"]
        model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out, safe_serialization=True)
    if arch == "cosmos3_omni":
        _name_architecture(out / "config.json", "Cosmos3ForConditionalGeneration")
    _processor(arch, tokenizer).save_pretrained(out)
    _LOG.info(
        "built tiny %s model: folder=%s params=%d seconds=%.2f",
        arch,
        out,
        sum(p.numel() for p in model.parameters()),
        time.monotonic() - start,
    )
    return out


def _name_architecture(config_path: Path, name: str) -> None:
    """Write ``architectures`` as the published checkpoint names it (``save_pretrained`` writes
    the class it saved: ``Cosmos3OmniForConditionalGeneration``)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["architectures"] = [name]
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _byte_level_bpe(special_tokens: Sequence[str] = ()) -> Any:
    """A byte-level BPE as Qwen's and Edge's tokenizers are, trained on the tiny corpus; the
    ``special_tokens`` (if any) take its first ids, in order."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_TARGET,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in special_tokens],
    )
    core.train_from_iterator(list(_CORPUS), trainer=trainer)
    return core


def _train_tokenizer(arch: str) -> Any:
    from tokenizers import AddedToken

    core = _byte_level_bpe()
    # As published: the added tokens follow the vocabulary, special ones first.
    core.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS]
    )
    added = ADDED_TOKENS + (QWEN3_ADDED_TOKENS if arch != "qwen2_5_vl" else ())
    core.add_tokens([AddedToken(t, special=False, normalized=False) for t in added])
    hf: Any = importlib.import_module("transformers")
    # Qwen2.5-VL lists the special tokens after <|endoftext|> as additional special tokens;
    # Qwen3-VL lists none. transformers 5 calls that list ``extra_special_tokens``.
    extra = list(SPECIAL_TOKENS[1:]) if arch == "qwen2_5_vl" else []
    key = "extra_special_tokens" if _major(hf.__version__) >= 5 else "additional_special_tokens"
    # The Qwen class: transformers 4.x processors refuse any other tokenizer class. Built from
    # ``tokenizer_object``, it keeps this pipeline as is (in 5.x too, where it is an alias).
    tokenizer = hf.Qwen2TokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        clean_up_tokenization_spaces=False,
        model_max_length=_MODEL_MAX_LENGTH[arch],
        **{key: extra},
    )
    tokenizer.chat_template = published_chat_template(arch)
    return tokenizer


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _model_config(arch: str, vocab_size: int, ids: dict[str, int]) -> Any:
    """Qwen-VL configs: Qwen2.5-VL, Qwen3-VL, and Cosmos3-Nano's Qwen3-VL reasoner."""
    text: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": _TEXT_WIDTH,
        "intermediate_size": 2 * _TEXT_WIDTH,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 65536,  # no test budget reaches it (published: 128k+)
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "dtype": "bfloat16",
    }
    vision: dict[str, Any] = {
        "depth": 2,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_heads": 2,
        "out_hidden_size": _TEXT_WIDTH,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    tokens: dict[str, Any] = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        # mrope_section sums to head_dim / 2 (head_dim = 128 / 4 = 32).
        text["rope_scaling"] = {"type": "mrope", "mrope_section": [4, 6, 6]}
        vision.update(patch_size=14, window_size=112, fullatt_block_indexes=[1])
        # Named here: transformers 4.x forwards a later ``config.architectures = ...`` (as
        # save_pretrained does) to the text config, leaving none at the top of config.json.
        return Qwen2_5_VLConfig(
            text_config=text,
            vision_config=vision,
            architectures=["Qwen2_5_VLForConditionalGeneration"],
            **tokens,
        )
    text["head_dim"] = 32
    text["rope_scaling"] = {
        "rope_type": "default",
        "mrope_section": [4, 6, 6],
        "mrope_interleaved": True,
    }
    vision.update(patch_size=16, num_position_embeddings=256, deepstack_visual_indexes=[1])
    if arch == "cosmos3_omni":
        from transformers import Cosmos3OmniConfig

        text["max_position_embeddings"] = _COSMOS3_POSITIONS
        # As published: ``Cosmos3ForConditionalGeneration`` (TensorRT-LLM and vLLM register
        # that name), model_type cosmos3_omni, Qwen3-VL text and vision sub-configs.
        return Cosmos3OmniConfig(
            text_config={**text, "model_type": "qwen3_vl_text"},
            vision_config={**vision, "model_type": "qwen3_vl_vision"},
            architectures=["Cosmos3ForConditionalGeneration"],
            **tokens,
        )
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(text_config=text, vision_config=vision, **tokens)


def _model_class(arch: str) -> Any:
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLForConditionalGeneration

        return Qwen2_5_VLForConditionalGeneration
    if arch == "cosmos3_omni":
        from transformers import Cosmos3OmniForConditionalGeneration

        return Cosmos3OmniForConditionalGeneration
    from transformers import Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration


def _edge_model(vocab_size: int) -> Any:
    """A tiny ``Cosmos3EdgeForConditionalGeneration``: relu2 MLP text model with 3-section
    mrope, a SigLIP2-style encoder (16 px patches, 2x2 merge) and the config's token ids."""
    from transformers import Cosmos3EdgeConfig, Cosmos3EdgeForConditionalGeneration

    ids = EDGE_SPECIAL_IDS
    config = Cosmos3EdgeConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": _TEXT_WIDTH,
            "intermediate_size": 2 * _TEXT_WIDTH,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 32,
            "max_position_embeddings": _COSMOS3_POSITIONS,
            # mrope_section sums to head_dim / 2, as the config requires
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 100_000_000.0,
                "mrope_section": [4, 6, 6],
            },
            "pad_token_id": ids["<unk>"],
            "bos_token_id": ids["<s>"],
            "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "patch_size": 16,
            "num_patches": 256,
            "spatial_merge_size": 2,
        },
        projector_hidden_size=_TEXT_WIDTH,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        architectures=["Cosmos3EdgeForConditionalGeneration"],
    )
    return Cosmos3EdgeForConditionalGeneration(config)


def _edge_tokenizer() -> Any:
    """A byte-level BPE whose first ``EDGE_SPECIAL_COUNT`` ids are Edge's special tokens.

    ``<think>`` and ``</think>`` stay plain text (spelled by the BPE), so decoding with
    ``skip_special_tokens`` keeps them, as a reasoning model's output must.
    """
    by_id = {i: t for t, i in EDGE_SPECIAL_IDS.items()}
    core = _byte_level_bpe([by_id.get(i, f"<SPECIAL_{i}>") for i in range(EDGE_SPECIAL_COUNT)])
    hf: Any = importlib.import_module("transformers")
    tokenizer = hf.PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<unk>",
        unk_token="<unk>",
        bos_token="<s>",
        clean_up_tokenization_spaces=False,
        model_max_length=_MODEL_MAX_LENGTH["cosmos3_edge"],
    )
    tokenizer.chat_template = published_chat_template("cosmos3_edge")
    return tokenizer


def _processor(arch: str, tokenizer: Any) -> Any:
    hf: Any = importlib.import_module("transformers")

    if arch == "qwen2_5_vl":
        factor = 28
        image = hf.Qwen2VLImageProcessor(
            patch_size=14,
            merge_size=2,
            temporal_patch_size=2,
            min_pixels=4 * factor * factor,
            max_pixels=16384 * factor * factor,
        )
        video = hf.Qwen2VLVideoProcessor(
            patch_size=14,
            merge_size=2,
            temporal_patch_size=2,
            min_pixels=4 * factor * factor,
            max_pixels=768 * factor * factor,
        )
        return hf.Qwen2_5_VLProcessor(
            image_processor=image,
            tokenizer=tokenizer,
            video_processor=video,
            chat_template=published_chat_template(arch),
        )
    if arch == "cosmos3_edge":
        return _edge_processor(hf, tokenizer)
    factor = 32
    image = hf.Qwen2VLImageProcessor(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        min_pixels=4 * factor * factor,
        max_pixels=16384 * factor * factor,
    )
    video = hf.Qwen3VLVideoProcessor(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        size={"shortest_edge": 4 * factor * factor, "longest_edge": 768 * factor * factor},
    )
    return hf.Qwen3VLProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        chat_template=published_chat_template(arch),
    )


def _edge_processor(hf: Any, tokenizer: Any) -> Any:
    """``Cosmos3EdgeProcessor`` with the transformers 5.25 processors' own geometry: 16 px
    patches merged 2x2, one frame per temporal patch, frames x height x width at most 24 Mi px
    (``size.longest_edge``), and a timestamp before every frame."""
    image = hf.Cosmos3EdgeImageProcessor(patch_size=16, merge_size=2)
    video = hf.Cosmos3EdgeVideoProcessor(patch_size=16, merge_size=2, temporal_patch_size=1)
    return hf.Cosmos3EdgeProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        chat_template=published_chat_template("cosmos3_edge"),
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: build the tiny checkpoint and print its folder."""
    parser = argparse.ArgumentParser(
        prog="python -m cosmos_reason_ros.testing.tiny_model",
        description="Write a tiny random-weight Cosmos-Reason-shaped checkpoint for tests.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write")
    parser.add_argument("--arch", choices=ARCHS, default="qwen2_5_vl", help="architecture")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(build_tiny_model(args.out_dir, arch=args.arch, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
