"""The providers plugin: every model behind one interface.

Connections to OpenAI-compatible servers, Ollama, Anthropic and Gemini, LangChain
models, and the embedded local models (SmolLM2 chat, MiniLM embeddings) that work
offline with no connection configured. See ``docs/providers.md``.
"""
