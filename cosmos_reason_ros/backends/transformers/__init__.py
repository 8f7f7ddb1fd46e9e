"""The transformers backend: in-process generation (bf16, or 8/4-bit with bitsandbytes),
with the answer constrained by xgrammar. torch and transformers are imported by its modules,
not here."""
