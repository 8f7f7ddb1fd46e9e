"""Security properties: no checkpoint code runs (and with trust_remote_code on, none that others
could have written), only safetensors load, only allowed actions leave the node, and API keys
never leak into logs, parameters, diagnostics, messages, answers or eval outputs.

Launch-time-only parameters tried over DDS by an intruder: test/ros/test_params_ros.py;
redirects and keys in errors and streamed text: test/backends/test_api_key.py."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cosmos_reason_ros import config as params
from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.core.errors import BackendError, InputError
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Clip, WindowSnapshot
from cosmos_reason_ros.testing import faulty_backend
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply, reason1_text

SECRET = "sk-test-9f8e7d6c5b4a-DO-NOT-LEAK"


def _config(model: Path, **values: Any) -> params.NodeConfig:
    return params.build_config(
        {
            "model": str(model),
            "device": "cpu",
            "max_new_tokens": 160,
            "max_thinking_tokens": 4,
            **values,
        }
    )


def test_trust_remote_code_defaults_to_false_and_transformers_is_told_so(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transformers = pytest.importorskip("transformers")
    from cosmos_reason_ros.backends.transformers.backend import TransformersBackend

    calls: list[tuple[str, dict[str, Any]]] = []
    for cls_name in ("AutoProcessor", "AutoModelForImageTextToText"):
        cls = getattr(transformers, cls_name)
        real = cls.from_pretrained

        def spy(*args: Any, _real: Any = real, _name: str = cls_name, **kwargs: Any) -> Any:
            calls.append((_name, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", spy)
    config = _config(tiny_model_dir)
    backend = TransformersBackend(config.backend)
    backend.load()
    backend.close()
    assert params.SPEC_BY_NAME["trust_remote_code"].default is False
    assert BackendConfig().trust_remote_code is False
    assert [name for name, _ in calls] == ["AutoProcessor", "AutoModelForImageTextToText"]
    assert all(kwargs["trust_remote_code"] is False for _, kwargs in calls)
    assert calls[1][1]["use_safetensors"] is True


def _copy_checkpoint(src: Path, dst: Path, weights: bool = True) -> Path:
    shutil.copytree(src, dst, ignore=None if weights else shutil.ignore_patterns("*.safetensors"))
    return dst


def test_checkpoint_custom_code_is_never_run_without_trust_remote_code(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    from cosmos_reason_ros.backends.transformers.backend import TransformersBackend

    folder = _copy_checkpoint(tiny_model_dir, tmp_path / "evil")
    marker = tmp_path / "custom_code_ran"
    (folder / "modeling_evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "from transformers import PreTrainedModel as EvilModel\n",
        encoding="utf-8",
    )
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {
        "AutoModelForImageTextToText": "modeling_evil.EvilModel",
        "AutoModel": "modeling_evil.EvilModel",
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    backend = TransformersBackend(_config(folder).backend)
    try:
        backend.load()  # the built-in class for the architecture, or a clear BackendError
    except BackendError as exc:
        assert "trust_remote_code" in str(exc) or "could not be loaded" in str(exc)
    finally:
        backend.close()
    assert not marker.exists(), "code shipped with the checkpoint ran"


def test_with_trust_remote_code_a_world_writable_checkpoint_is_refused_before_any_code_runs(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    from cosmos_reason_ros.backends.transformers.backend import TransformersBackend

    folder = _copy_checkpoint(tiny_model_dir, tmp_path / "shared")
    marker = tmp_path / "custom_code_ran"
    (folder / "modeling_evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n", encoding="utf-8"
    )
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForImageTextToText": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    folder.chmod(0o777)  # anyone on the machine could have dropped modeling_evil.py there
    link = tmp_path / "model"
    link.symlink_to(folder, target_is_directory=True)
    backend = TransformersBackend(_config(link, trust_remote_code=True).backend)
    with pytest.raises(BackendError) as caught:
        backend.load()
    assert not marker.exists(), "code shipped with the checkpoint ran"
    assert str(caught.value).startswith(
        f"model folder {link} (resolved: {folder}) is not safe with trust_remote_code on: "
        f"{folder} is world-writable."
    )


def test_a_folder_with_only_pytorch_model_bin_is_refused_naming_safetensors(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from cosmos_reason_ros.backends.transformers.backend import TransformersBackend

    folder = _copy_checkpoint(tiny_model_dir, tmp_path / "pickled", weights=False)
    state: dict[str, Any] = {}
    for file in tiny_model_dir.glob("*.safetensors"):
        state.update(load_file(file))
    torch.save(state, folder / "pytorch_model.bin")
    backend = TransformersBackend(_config(folder).backend)
    with pytest.raises(BackendError, match=r"has no \*\.safetensors weights"):
        backend.load()


def _snapshot() -> WindowSnapshot:
    frames = tuple(np.full((56, 56, 3), 80 + 10 * i, np.uint8) for i in range(2))
    return WindowSnapshot((Clip("/cam", "cam", frames, (10**9, 10**9 + 250_000_000), 4.0),))


def test_only_the_action_space_names_actions_choices_and_model_output_outside_it_fail(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    config = _config(tiny_model_dir, constrained_decoding=False, profile="reason1")
    backend = faulty_backend.FaultyBackend(config.backend)
    backend.load()
    reasoner = Reasoner(backend, config.reasoner)
    outside = reason1_text(
        {
            "action": "self_destruct",
            "target": "",
            "reason": "because",
            "confidence": 0.9,
            "parameters": {},
        }
    )
    try:
        with pytest.raises(InputError, match="choices 'self_destruct' are not allowed actions"):
            reasoner.validate_request("", ["self_destruct", "stop"])
        faulty_backend.SWITCH.set("garbage", text=outside)
        decision = reasoner.decide(_snapshot(), decision_id=1)
        request = reasoner.validate_request(choices=["wait", "turn_left"])
        in_choices = reasoner.decide(_snapshot(), decision_id=2, request=request)
    finally:
        faulty_backend.SWITCH.clear()
        backend.close()
    for d in (decision, in_choices):
        assert not d.valid
        assert d.action == "stop"
        assert "self_destruct" in d.reason


# ----- API keys ------------------------------------------------------------------------------
KEY_ENV = "COSMOS_TEST_API_KEY"
# A server that echoes the key back (in its thinking text and in an error) shows that what
# comes back is blanked: without the echo, a scan finding nothing would prove little.
ECHOING = reason1_text(
    {"action": "wait", "target": "", "reason": "ok", "confidence": 0.5, "parameters": {}},
    thinking=f"the request said Authorization: Bearer {SECRET}",
)


def _leaks(texts: dict[str, list[str]]) -> dict[str, list[str]]:
    return {where: [t for t in items if SECRET in t] for where, items in texts.items() if items}


def test_api_key_never_appears_in_logs_parameters_diagnostics_messages_or_answers(
    ros_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("openai")
    pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "ros"))  # the ROS test harness
    from diagnostic_msgs.msg import DiagnosticArray
    from harness import T0_NS, Camera, Listener, frame, image_msg
    from rcl_interfaces.msg import Log
    from rclpy.action import ActionClient
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from spin import spinning, wait_for

    from cosmos_reason_ros.action import Reason
    from cosmos_reason_ros.ros.node import SUCCESS, ReasonNode

    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    with ChatCompletionsServer(default=Reply.answer(ECHOING, chunks=60), api_key=SECRET) as server:
        values = {
            "backend": "openai",
            "model": "test-model",
            "base_url": server.base_url,
            "api_key_env": KEY_ENV,
            "profile": "reason1",
            "image_topics": ["/cam/image_raw"],
            "decision_period_s": 0.0,
            "max_frame_age_s": 30.0,
            "max_retries": 0,
            "autostart": False,
            "diagnostics_period_s": 0.2,
        }
        overrides = [Parameter(k, value=v) for k, v in values.items()]
        node = ReasonNode(context=ros_context, parameter_overrides=overrides)
        listener = Listener(ros_context)
        cam = Camera(ros_context, "/cam/image_raw", reliable=True)
        reason = ActionClient(listener, Reason, "/cosmos_reason/reason")
        logs: list[Log] = []
        diags: list[DiagnosticArray] = []
        feedback: list[Any] = []
        qos = QoSProfile(
            depth=500,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        listener.create_subscription(Log, "/rosout", logs.append, qos)
        listener.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
        with spinning(ros_context, node, listener, cam, threads=8):
            assert node.trigger_configure() == SUCCESS
            assert node.trigger_activate() == SUCCESS
            assert listener.ask.wait_for_service(timeout_sec=10)
            cam.wait_matched()
            cam.send([image_msg(frame(), T0_NS, "rgb8")])
            time.sleep(0.3)
            good = listener.call()
            assert reason.wait_for_server(timeout_sec=10)
            sent = reason.send_goal_async(Reason.Goal(), feedback_callback=feedback.append)
            wait_for(sent.done, what="the goal response")
            result = sent.result().get_result_async()
            wait_for(result.done, 30, what="the goal's result")
            server.push(Reply.error(401, f"invalid key {SECRET}"))  # an error echoing the key
            echoed = listener.call()
            server.api_key = "a-different-key"  # the next request is refused: 401
            refused = listener.call()
            wait_for(lambda: len(diags) >= 2 and len(listener.reasonings) >= 2, what="outputs")
            parameters = [p.value for p in node.get_parameters([s.name for s in params.SPECS])]
        node.close()
        reason.destroy()
        for n in (node, listener, cam):
            n.destroy_node()
        authorization = server.chat_requests[0].authorization
    captured = capfd.readouterr()
    assert authorization == f"Bearer {SECRET}", "the key from the environment was used"
    assert good.success, good.message
    assert good.reasoning.thinking.endswith("Authorization: Bearer ***"), "the echo is blanked"
    assert result.result().result.success and feedback
    for failed in (echoed, refused):
        assert not failed.success and failed.message.startswith("backend failed"), failed
    assert "invalid key ***" in echoed.message
    texts = {
        "rosout": [m.msg for m in logs],
        "python logging": [r.getMessage() for r in caplog.records],
        "stdout and stderr": [captured.out, captured.err],
        "parameters": [str(v) for v in parameters],
        "diagnostics": [str(d) for d in diags],
        "next_action": [str(m) for m in listener.actions],
        "reasoning": [str(m) for m in listener.reasonings],
        "ask answers": [str(good), str(echoed), str(refused)],
        "action feedback and result": [str(f) for f in feedback] + [str(result.result())],
    }
    assert _leaks(texts) == {where: [] for where, items in texts.items() if items}
    assert logs and diags and listener.actions and listener.reasonings


def test_api_key_never_appears_in_eval_outputs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("openai")
    from cosmos_reason_ros.tools.eval_cli import main
    from cosmos_reason_ros.tools.scenario import write_scenario

    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    bag = tmp_path / "ball.mcap"
    write_scenario(bag, duration_s=2.2, rate_hz=5.0, width=160, height=120)
    out = tmp_path / "eval"
    script = [Reply.answer(ECHOING, chunks=60), Reply.error(400, f"bad key {SECRET}")]
    with ChatCompletionsServer(
        script=script, default=Reply.answer(ECHOING), api_key=SECRET
    ) as srv:
        status = main(
            [
                str(bag),
                "--model",
                "test-model",
                "--backend",
                "openai",
                "--every",
                "1.0",
                "--out",
                str(out),
                "--no-progress",
                *("--set", f"base_url={srv.base_url}"),
                *("--set", f"api_key_env={KEY_ENV}"),
                *("--set", "profile=reason1"),
                *("--set", "max_retries=0"),
            ]
        )
        authorizations = {r.authorization for r in srv.chat_requests}
    captured = capfd.readouterr()
    assert status == 0, captured.err
    assert authorizations == {f"Bearer {SECRET}"}
    outputs = {f.name: f.read_text(encoding="utf-8") for f in out.iterdir() if f.is_file()}
    assert set(outputs) == {"decisions.jsonl", "summary.json", "report.html"}
    assert json.loads(outputs["summary.json"])["backend_errors"] == 1
    assert "Bearer ***" in outputs["decisions.jsonl"] and "bad key ***" in outputs["report.html"]
    texts = {
        **{name: [text] for name, text in outputs.items()},
        "python logging": [r.getMessage() for r in caplog.records],
        "stdout and stderr": [captured.out, captured.err],
    }
    assert _leaks(texts) == {where: [] for where in texts}
