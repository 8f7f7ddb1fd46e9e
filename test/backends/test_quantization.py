"""bitsandbytes checked before a model loads: a build whose kernels do not work on the GPU at
hand (the Jetson Orin case: import succeeds, the first kernel fails) is refused in one sentence.

The failing kernel is stood in for by a function that raises the error bitsandbytes raises on
Orin (bitsandbytes issue 1930): no Jetson here, and this machine's CPU build has no CUDA kernel
to fail.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="quantization needs torch")

from cosmos_reason_ros.backends.transformers.quantization import check_kernels
from cosmos_reason_ros.core.errors import BackendUnavailableError

ORIN_ERROR = "Error named symbol not found at line 449 in file /src/csrc/ops.cu"


def test_a_failing_kernel_stands_in_for_orin_and_is_refused_in_one_sentence() -> None:
    def orin_kernel() -> None:
        raise RuntimeError(ORIN_ERROR)

    with pytest.raises(BackendUnavailableError) as info:
        check_kernels("4bit", kernel=orin_kernel)
    message = str(info.value)
    assert message.count("\n") == 0
    assert "quantization 4bit needs bitsandbytes kernels" in message
    assert ORIN_ERROR in message and "config/jetson_orin.yaml" in message


def test_a_working_kernel_passes() -> None:
    check_kernels("8bit", kernel=lambda: None)
