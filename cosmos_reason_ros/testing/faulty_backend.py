"""A fault-injecting wrapper around the REAL transformers backend, for tests only.

``FaultyBackend`` injects faults ON PURPOSE: it loads and runs the real ``TransformersBackend``
(the tiny model in tests) and, while the module-level ``SWITCH`` names a fault, makes
``generate`` fail the way a sick backend would: raise ``BackendError`` or a stray
``RuntimeError``, hang past ``inference_timeout_s`` ignoring the cancel event (then answer,
late), raise ``torch.OutOfMemoryError`` or ``MemoryError``, or return garbage text after a real
generation.
It is never registered by the package; a test registers it in place of ``transformers``::

    monkeypatch.setitem(backends._REGISTRY, "transformers", faulty_backend.REGISTRY_ENTRY)
    faulty_backend.SWITCH.set("hang", hang_s=2.0)

Thread-safety: the switch may be flipped from any thread; ``generate`` reads it once per call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.transformers.backend import TransformersBackend
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import BackendInfo, GenerationRequest, GenerationResult

__all__ = ["FAULTS", "REGISTRY_ENTRY", "SWITCH", "FaultSwitch", "FaultyBackend"]

FAULTS = ("backend_error", "runtime_error", "hang", "cuda_oom", "memory_error", "garbage")

REGISTRY_ENTRY = ("cosmos_reason_ros.testing.faulty_backend", "FaultyBackend")
"""The ``backends._REGISTRY`` value that makes ``create_backend`` build a ``FaultyBackend``."""

GARBAGE_TEXT = "\x00\ufffd purple monkey dishwasher }{ <answer> not json"


@dataclass(frozen=True)
class _Fault:
    name: str = ""
    hang_s: float = 0.0
    text: str = GARBAGE_TEXT


class FaultSwitch:
    """Which fault ``generate`` injects now; "" injects none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault = _Fault()
        self.injected = 0

    def set(self, name: str, hang_s: float = 0.0, text: str = GARBAGE_TEXT) -> None:
        """Inject ``name`` (one of ``FAULTS``) from the next ``generate`` on."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            self._fault = _Fault(name, hang_s, text)

    def clear(self) -> None:
        """Stop injecting faults; the next ``generate`` is the real one."""
        with self._lock:
            self._fault = _Fault()
            self.injected = 0

    def current(self) -> _Fault:
        with self._lock:
            return self._fault

    def count(self) -> None:
        with self._lock:
            self.injected += 1


SWITCH = FaultSwitch()


class FaultyBackend:
    """The real ``TransformersBackend`` with faults injected on purpose (see module doc)."""

    def __init__(self, config: BackendConfig) -> None:
        self._real = TransformersBackend(config)

    def load(self) -> None:
        self._real.load()

    def generate(self, request: GenerationRequest) -> GenerationResult:
        fault = SWITCH.current()
        if fault.name:
            SWITCH.count()
        if fault.name == "backend_error":
            raise BackendError("injected fault: the model runtime went away")
        if fault.name == "runtime_error":
            raise RuntimeError("injected fault: CUDA error: an illegal memory access")
        if fault.name == "cuda_oom":
            import torch

            raise torch.OutOfMemoryError("injected fault: CUDA out of memory. Tried 20 GiB")
        if fault.name == "memory_error":
            raise MemoryError("injected fault: cannot allocate")
        if fault.name == "hang":  # a wedged runtime: ignores request.cancel on purpose
            time.sleep(fault.hang_s)
            request = replace(request, cancel=None)
        result = self._real.generate(request)
        if fault.name == "garbage":
            return replace(result, text=fault.text, thinking=None, answer_json=None)
        return result

    def close(self) -> None:
        self._real.close()

    def describe(self) -> BackendInfo:
        return self._real.describe()
