"""The official `openai` Python SDK as a client of a running Switchyard.

Usage: python3 openai_client.py BASE_URL   (e.g. http://127.0.0.1:8080/v1)

Exercises what an application does with the SDK: plain and streamed completions on a route
alias and on a concrete model, the raw response headers, model listing, and the exceptions
the SDK raises for Switchyard's errors. Exits non-zero on the first failed check.
"""

import sys

import openai

HARD = "Prove step by step that the square root of 2 is irrational, then explain why the proof generalises to every prime."


def main(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=30)

    # A plain completion on the route alias; the raw response exposes Switchyard's headers.
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content, completion
    assert completion.model == raw.headers["x-switchyard-model"], (completion.model, raw.headers)
    assert raw.headers["x-switchyard-route"] == "auto"
    assert float(raw.headers["x-switchyard-cost-usd"]) >= 0
    assert completion.usage is not None and completion.usage.total_tokens > 0

    # A hard prompt is escalated past the small model.
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": HARD}])
    assert raw.headers["x-switchyard-model"] == "large", raw.headers
    assert raw.headers["x-switchyard-attempts"] == "2"

    # Streaming, as the SDK consumes it (SSE ending in [DONE]).
    stream = client.chat.completions.create(
        model="auto", stream=True, messages=[{"role": "user", "content": HARD}], stream_options={"include_usage": True}
    )
    text, models, usage = [], set(), None
    for chunk in stream:
        models.add(chunk.model)
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                text.append(choice.delta.content)
    assert "".join(text), "streamed content"
    assert models == {"large"}, models
    assert usage is not None and usage.completion_tokens > 0

    # A concrete model: a plain gateway.
    completion = client.chat.completions.create(model="small", messages=[{"role": "user", "content": "Say hi."}])
    assert completion.model == "small"

    # Listing.
    ids = {m.id for m in client.models.list()}
    assert {"auto", "small", "large"} <= ids, ids

    # Errors map to the SDK's exception types.
    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected NotFoundError")
    except openai.NotFoundError as error:
        assert error.status_code == 404 and "no-such-model" in str(error)
    try:
        client.chat.completions.create(model="auto", messages=[])
        raise AssertionError("expected BadRequestError")
    except openai.BadRequestError as error:
        assert error.status_code == 400

    print("openai SDK", openai.__version__, "against Switchyard: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
