"""The tiny checkpoints carry the published Qwen-VL chat templates and tokenizer roles.

Sources (details and digests in ``cosmos_reason_ros/testing/chat_templates/PROVENANCE.md``):

- Qwen2.5-VL (Cosmos-Reason1): ``chat_template`` of ``Qwen/Qwen2.5-VL-7B-Instruct``; checked
  here against an independent record of the Hub file (revision
  ``cc594898137f460bfe9f0759e9844b3ce807cfb5``): sha256 of its JSON-encoded string
  ``4df95d05…``.
- Qwen3-VL (Cosmos-Reason2): ``chat_template`` of ``Qwen/Qwen3-VL-8B-Instruct``, stated by
  NVIDIA's code to be byte-identical to ``nvidia/Cosmos-Reason2-8B``'s. It could NOT be
  downloaded from the Hub here: the vendored bytes are the best-supported published version
  (transcribed from NVIDIA's copy; three more copies read in full agree). Its digest below pins
  that transcription; it is not a digest published by Qwen or NVIDIA.
- Tokenizer tables: ``AutoProcessor.from_pretrained`` printouts of ``Qwen2.5-VL-7B-Instruct``
  and ``Qwen/Qwen3-VL-2B-Instruct`` (``added_tokens_decoder`` with each token's ``special``
  flag, eos, pad, additional special tokens), copied into ``PUBLISHED_ADDED`` below.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cosmos_reason_ros.testing.tiny_model import TEMPLATES, published_chat_template

QWEN2_5_VL_SHA256 = "a0bc6f6fc7a29a80017a433e8f03a1cc1236e838a944a2d034295a60c4f2fddb"
QWEN2_5_VL_HUB_JSON_SHA256 = "4df95d05455c2a6f762616492bba63d0f9bef904ef47daabad35f5715d6d2e4e"
QWEN3_VL_SHA256 = "3636d0f0bd6bef02654cdffdc447b79cb2cef8ab02cc75267345946291a489e4"

_SPECIAL = [
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
]
_NOT_SPECIAL = [
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
# (content, special) in id order, as the published added_tokens_decoder lists them
# (Qwen2.5-VL ids 151643-151664, Qwen3-VL ids 151643-151668).
PUBLISHED_ADDED = {
    "qwen2_5_vl": [(t, True) for t in _SPECIAL] + [(t, False) for t in _NOT_SPECIAL],
    "qwen3_vl": [(t, True) for t in _SPECIAL]
    + [(t, False) for t in _NOT_SPECIAL]
    + [(t, False) for t in ("<tool_response>", "</tool_response>", "<think>", "</think>")],
}
PUBLISHED_EXTRA_SPECIAL = {"qwen2_5_vl": _SPECIAL[1:], "qwen3_vl": []}
PUBLISHED_MAX_LENGTH = {"qwen2_5_vl": 131072, "qwen3_vl": 262144}


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path, tiny_reason2_dir: Path) -> dict[str, Path]:
    return {"qwen2_5_vl": tiny_model_dir, "qwen3_vl": tiny_reason2_dir}


def test_vendored_template_bytes_are_pinned() -> None:
    r1 = (TEMPLATES / "qwen2_5_vl.jinja").read_bytes()
    r2 = (TEMPLATES / "qwen3_vl.jinja").read_bytes()
    assert hashlib.sha256(r1).hexdigest() == QWEN2_5_VL_SHA256
    assert hashlib.sha256(r2).hexdigest() == QWEN3_VL_SHA256
    assert len(r2.splitlines()) == 120 and r2.endswith(b"{%- endif %}\n")


def test_qwen2_5_vl_template_matches_the_record_of_the_hub_file() -> None:
    """An independent record hashed the Hub's string as ``json.dumps`` encodes it."""
    encoded = json.dumps(published_chat_template("qwen2_5_vl")).encode("utf-8")
    assert hashlib.sha256(encoded).hexdigest() == QWEN2_5_VL_HUB_JSON_SHA256


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen3_vl"])
def test_tiny_checkpoint_templates_equal_the_published_ones(
    tiny: dict[str, Path], arch: str
) -> None:
    from transformers import AutoProcessor, AutoTokenizer

    published = (TEMPLATES / f"{arch}.jinja").read_bytes()
    assert (tiny[arch] / "chat_template.jinja").read_bytes() == published
    assert AutoProcessor.from_pretrained(tiny[arch]).chat_template.encode() == published
    assert AutoTokenizer.from_pretrained(tiny[arch]).chat_template.encode() == published


def test_templates_render_the_published_layouts(tiny: dict[str, Path]) -> None:
    """Qwen2.5-VL injects the default system turn; Qwen3-VL does not (a printout of
    Qwen3-VL-2B-Instruct's render starts ``<|im_start|>user\\n<|vision_start|>``)."""
    from transformers import AutoProcessor

    chat = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}]
    r1 = AutoProcessor.from_pretrained(tiny["qwen2_5_vl"]).apply_chat_template(
        chat, tokenize=False, add_generation_prompt=True
    )
    r2 = AutoProcessor.from_pretrained(tiny["qwen3_vl"]).apply_chat_template(
        chat, tokenize=False, add_generation_prompt=True
    )
    user = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n"
    assert r1 == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        + user
        + "<|im_start|>assistant\n"
    )
    assert r2 == user + "<|im_start|>assistant\n"


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen3_vl"])
def test_tokenizer_flags_added_tokens_as_the_published_one(
    tiny: dict[str, Path], arch: str
) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny[arch])
    decoder = sorted(tok.added_tokens_decoder.items())
    assert [(t.content, t.special) for _, t in decoder] == PUBLISHED_ADDED[arch]
    ids = [i for i, _ in decoder]
    assert ids == list(range(len(tok) - len(ids), len(tok)))  # after the vocabulary, in order
    assert (tok.eos_token, tok.pad_token, tok.bos_token, tok.unk_token) == (
        "<|im_end|>",
        "<|endoftext|>",
        None,
        None,
    )
    assert set(tok.all_special_tokens) == {"<|im_end|>", "<|endoftext|>"} | set(
        PUBLISHED_EXTRA_SPECIAL[arch]
    )
    assert tok.model_max_length == PUBLISHED_MAX_LENGTH[arch]


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen3_vl"])
def test_constrained_decoding_sees_the_published_roles(tiny: dict[str, Path], arch: str) -> None:
    """What xgrammar and the token table read: the end of turn stops, the reasoning markers of
    Qwen3-VL are text (kept by ``skip_special_tokens``), and only the logits' padding past the
    tokenizer is special to xgrammar, as with the published tokenizers."""
    import xgrammar as xgr
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny[arch])
    vocab = json.loads((tiny[arch] / "config.json").read_text())["text_config"]["vocab_size"]
    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=vocab)
    assert [tok.convert_ids_to_tokens(i) for i in info.stop_token_ids] == ["<|im_end|>"]
    assert set(info.special_token_ids) == set(range(len(tok), vocab))
    text = "<think>\nx\n</think>\n\n<|im_end|>"
    decoded = tok.decode(tok.encode(text, add_special_tokens=False), skip_special_tokens=True)
    assert decoded == "<think>\nx\n</think>\n\n"
    marker_is_one_token = len(tok.encode("</think>", add_special_tokens=False)) == 1
    assert marker_is_one_token == (arch == "qwen3_vl")
