"""The in-process llama.cpp engine (llama-cpp-python, low-level API)."""
