"""The openai backend: a server with an OpenAI-compatible chat API (vLLM, trtllm-serve, NIM,
TensorRT Edge-LLM). The openai client is imported by its modules, not here."""
