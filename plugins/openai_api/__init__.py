"""The OpenAI-compatible API (``/v1``): models, chat completions (streaming, tools) and
embeddings over every model of the shared list, with API keys, OpenAI's error shape and
each call recorded as a pipeline run. See ``docs/chat.md``.
"""
