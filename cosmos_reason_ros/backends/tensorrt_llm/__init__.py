"""The TensorRT-LLM backend (LLM API, PyTorch flow). tensorrt_llm is imported by its modules
when the backend is created, not here."""
