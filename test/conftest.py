"""Shared fixtures: an isolated ROS domain per test process, ROS contexts, the tiny model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Parallel test runs (and other developers' runs on the same machine) must not hear each
# other over DDS: each test process gets its own domain, chosen before rclpy is initialised.
os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
# The tiny model decodes ~5x faster on one torch thread than on two shared cores, where DDS
# and the test's own threads compete. Set before anything imports torch.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight Qwen2.5-VL checkpoint (Cosmos-Reason1 architecture)."""
    pytest.importorskip("torch", reason="the tiny model needs torch: run `make setup`")
    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_qwen2_5_vl"), arch="qwen2_5_vl")


@pytest.fixture(scope="session")
def tiny_reason2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight Qwen3-VL checkpoint (Cosmos-Reason2 architecture)."""
    pytest.importorskip("torch", reason="the tiny model needs torch: run `make setup`")
    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_qwen3_vl"), arch="qwen3_vl")


@pytest.fixture(scope="session")
def tiny_model_dirs(tiny_model_dir: Path, tiny_reason2_dir: Path) -> dict[str, Path]:
    """Both tiny checkpoints: Qwen2.5-VL (Cosmos-Reason1) and Qwen3-VL (Cosmos-Reason2)."""
    return {"qwen2_5_vl": tiny_model_dir, "qwen3_vl": tiny_reason2_dir}


@pytest.fixture(scope="session")
def tiny_cosmos3_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny random-weight Cosmos 3 checkpoints: ``cosmos3_omni`` (Cosmos3-Nano / Super's
    Qwen3-VL reasoner) and ``cosmos3_edge`` (Cosmos3-Edge), built once per session."""
    pytest.importorskip("torch", reason="the tiny model needs torch: run `make setup`")
    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    return {
        arch: build_tiny_model(tmp_path_factory.mktemp(f"tiny_{arch}"), arch=arch)
        for arch in ("cosmos3_omni", "cosmos3_edge")
    }


@pytest.fixture(scope="session")
def tiny_all_dirs(
    tiny_model_dirs: dict[str, Path], tiny_cosmos3_dirs: dict[str, Path]
) -> dict[str, Path]:
    """Every tiny checkpoint by architecture: Reason1, Reason2 and both Cosmos 3."""
    return {**tiny_model_dirs, **tiny_cosmos3_dirs}


@pytest.fixture
def ros_context() -> Iterator[object]:
    """A fresh rclpy context for one test, shut down afterwards."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)
