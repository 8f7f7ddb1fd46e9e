"""Issue 22, item 3: the recipes' penalties reach TensorRT-LLM's sampler on every release.

Before 2026 the PyTorch backend's default sampler (TorchSampler) drops ``repetition_penalty``
and ``presence_penalty`` without a word; only the TRT-LLM sampler applies them, picked by
``LLM(enable_trtllm_sampler=True)`` on 1.0 and ``LLM(sampler_type="TRTLLMSampler")`` on 1.2.
The stand-in models that per release (``releases.py``); the backend must set what the release
needs, or refuse at load naming the setting.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from trtllm_cases import config, make_request

from cosmos_reason_ros.backends.tensorrt_llm import backend as backend_module
from cosmos_reason_ros.backends.tensorrt_llm.backend import TensorRTLLMBackend
from cosmos_reason_ros.backends.tensorrt_llm.penalties import penalty_sampler
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.recipes import REASON1_RECIPE, REASON2_RECIPE
from cosmos_reason_ros.testing.tensorrt_llm_standin import Reply, Runtime, installed

RELEASES = ("1.0", "1.2", "main")
# (checkpoint fixture, the recipe's sampling with a penalty, that penalty)
CASES = {
    "reason1": ("tiny_model_dir", REASON1_RECIPE.sampling(True), ("repetition_penalty", 1.05)),
    "reason2_plain": (
        "tiny_reason2_dir",
        REASON2_RECIPE.sampling(False),
        ("presence_penalty", 1.5),
    ),
}


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("family", sorted(CASES))
def test_item3_recipe_penalties_reach_the_sampler_on_every_release(
    release: str, family: str, request: pytest.FixtureRequest
) -> None:
    fixture, sampling, (name, value) = CASES[family]
    model_dir: Path = request.getfixturevalue(fixture)
    runtime = Runtime()
    runtime.push(Reply.of("ok"))
    with installed(release, runtime):
        backend = TensorRTLLMBackend(config(model=str(model_dir), max_num_tokens=16384))
        backend.load()
        try:
            plain = make_request(constrained=False)
            backend.generate(dataclasses.replace(plain, sampling=sampling))
        finally:
            backend.close()
    (call,) = runtime.calls
    assert getattr(call.sampling_params, name) == value  # asked for...
    assert call.applied_penalties.get(name) == value  # ...and applied by the sampler


@pytest.mark.parametrize(("release", "applied"), [("1.0", False), ("1.2", False), ("main", True)])
def test_item3_without_the_sampler_setting_the_standin_drops_penalties_silently(
    release: str, applied: bool, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the backend did before item 3 (no sampler setting): TorchSampler before 1.3 is
    asked for the penalty, raises nothing, and does not apply it."""
    monkeypatch.setattr(backend_module, "penalty_sampler", lambda names, version: {})
    runtime = Runtime()
    runtime.push(Reply.of("ok"))
    with installed(release, runtime):
        backend = TensorRTLLMBackend(config(model=str(tiny_model_dir), max_num_tokens=16384))
        backend.load()
        try:
            plain = make_request(constrained=False)
            backend.generate(dataclasses.replace(plain, sampling=REASON1_RECIPE.sampling(True)))
        finally:
            backend.close()
    (call,) = runtime.calls
    assert call.sampling_params.repetition_penalty == 1.05
    assert ("repetition_penalty" in call.applied_penalties) is applied


@pytest.mark.parametrize(
    ("names", "version", "expected"),
    [
        ({"enable_trtllm_sampler"}, "1.0.0rc4", {"enable_trtllm_sampler": True}),
        ({"sampler_type"}, "1.2.0rc2", {"sampler_type": "TRTLLMSampler"}),
        ({"sampler_type"}, "1.3.0rc26", {}),
        ({"sampler_type"}, "1.4.0", {}),
    ],
)
def test_item3_the_setting_follows_the_release(
    names: set[str], version: str, expected: dict[str, object]
) -> None:
    assert penalty_sampler(names, version) == expected


@pytest.mark.parametrize(("names", "version"), [(set(), "1.2.0"), ({"sampler_type"}, "dev")])
def test_item3_a_release_without_a_known_setting_is_refused_naming_it(
    names: set[str], version: str
) -> None:
    with pytest.raises(BackendError) as info:
        penalty_sampler(names, version)
    message = str(info.value)
    assert "enable_trtllm_sampler=True" in message and "sampler_type='TRTLLMSampler'" in message
    assert message.count(". ") == 0
