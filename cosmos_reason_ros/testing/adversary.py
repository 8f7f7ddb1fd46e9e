"""An adversary for tests: a model that, wherever it is allowed, prefers what breaks answers.

``Adversary`` is a logits processor that runs before the answer constraint and adds a large
bias to stop and end-of-turn tokens (and every other special token), to the pieces of the
``</think>`` marker, to ``{``, ``}`` and quotes, and to the longest tokens (which fill strings
to their bounds and numbers without end). Over the tiny random-weight checkpoints it makes the
hardest case the real transformers + xgrammar path can meet: whatever it emits, the decision
must still be valid. ``AdversarialTransformersBackend`` is the real transformers backend with
the adversary in front of the constraint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor

from cosmos_reason_ros.backends.grammar import token_table
from cosmos_reason_ros.backends.transformers.backend import TransformersBackend

_BREAKERS = (b"</", b"think", b">", b"{", b"}", b'"', b"\\")


class Adversary(LogitsProcessor):
    """Biases the next-token scores toward what breaks answers (see the module docstring).

    Args:
        tokenizer: The model's tokenizer.
        vocab_size: The model's logits width.
        strength: The bias, in logits; large enough to decide wherever the token is allowed.
    """

    def __init__(self, tokenizer: Any, vocab_size: int, strength: float = 30.0) -> None:
        table = token_table(tokenizer, vocab_size)
        bias = np.zeros(vocab_size, dtype=np.float32)
        longest = max(1, int(table.lengths.max()))
        bias += strength * table.lengths.astype(np.float32) / longest
        for token_id, text in enumerate(table.text):
            if any(piece in text for piece in _BREAKERS):
                bias[token_id] += strength
        bias[sorted(table.special)] += 2 * strength
        self._bias = torch.from_numpy(bias)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        return scores + self._bias.to(scores.device, scores.dtype)


class AdversarialTransformersBackend(TransformersBackend):
    """The transformers backend with the ``Adversary`` in front of the answer constraint."""

    def _pre_processors(self, tokenizer: Any) -> list[Any]:
        model = self._model
        vocab_size = int(model.config.get_text_config().vocab_size)
        return [Adversary(tokenizer, vocab_size)]
