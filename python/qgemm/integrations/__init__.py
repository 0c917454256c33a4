"""Plugins that run engines' and libraries' linear layers on qgemm: vllm (vLLM's
`vllm.general_plugins` entry point), sglang (`sglang.srt.plugins`), transformers (a
quantizer for qgemm-written checkpoints). Each module imports its engine, so import only the
one that is installed."""
