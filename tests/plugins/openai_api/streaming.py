"""Reading a /v1 stream the way a client of the ``openai`` package does."""

from __future__ import annotations

from typing import Any

import openai
import pytest


async def read_until_error(client: Any, model: str, content: str) -> tuple[list[str], Any]:
    """Stream a completion of ``model`` that must end in an error: the text pieces that
    came before it, and the ``openai.APIError`` it ended with."""
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], stream=True
    )
    pieces = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
    return pieces, caught.value
