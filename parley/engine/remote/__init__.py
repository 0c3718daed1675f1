"""Engines that run on other servers (llama.cpp's llama-server, vLLM), behind the Engine port."""
