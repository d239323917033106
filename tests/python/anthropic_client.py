"""The official `anthropic` Python SDK (and the `openai` one, across dialects) as clients of a
running Switchyard.

Usage: python3 anthropic_client.py BASE_URL   (e.g. http://127.0.0.1:8080)

Models in the config this expects: `small` (an OpenAI-compatible upstream), `claude-small`
and `claude-large` (Anthropic-dialect upstreams, the simulator's /v1/messages), route `auto`.
Exits non-zero on the first failed check.
"""

import json
import sys

import anthropic
import openai

TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    }
]


def main(base_url: str) -> None:
    client = anthropic.Anthropic(base_url=base_url, api_key="not-needed", max_retries=0, timeout=30)

    # Plain messages, to an OpenAI-compatible model and to an Anthropic-dialect one.
    for model in ["small", "claude-small", "auto"]:
        raw = client.messages.with_raw_response.create(
            model=model,
            max_tokens=256,
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            metadata={"user_id": "sdk-test"},
            stop_sequences=["</end>"],
            messages=[{"role": "user", "content": "What is the capital of France?"}],
        )
        message = raw.parse()
        assert message.type == "message" and message.role == "assistant", message
        assert message.content and message.content[0].type == "text" and message.content[0].text, message
        assert message.stop_reason == "end_turn", message.stop_reason
        assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0, message.usage
        assert raw.headers["x-switchyard-model"] == message.model, (raw.headers, message.model)
        assert float(raw.headers["x-switchyard-cost-usd"]) >= 0

    # Streaming, as the SDK's helpers consume it (its own event state machine checks the order).
    for model in ["small", "claude-small"]:
        with client.messages.stream(
            model=model, max_tokens=256, messages=[{"role": "user", "content": "Name three colours."}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text and text == final.content[0].text, (text, final)
        assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0, final
        assert final.model == model, final.model
        # Raw events (the SDK drops `ping` itself; the Rust suite checks it is sent).
        kinds = [event.type for event in client.messages.create(
            model=model, max_tokens=64, stream=True, messages=[{"role": "user", "content": "Hi"}]
        )]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
        assert kinds[-2] == "message_delta" and "content_block_delta" in kinds, kinds

    # A tool-use round trip, plain and streamed.
    question = [{"role": "user", "content": "What is the weather in Lisbon right now?"}]
    message = client.messages.create(model="claude-small", max_tokens=256, tools=TOOLS, messages=question)
    assert message.stop_reason == "tool_use", message
    call = next(block for block in message.content if block.type == "tool_use")
    # The simulator fills a call's required arguments from the prompt (`unit` is optional).
    assert call.name == "get_weather" and isinstance(call.input.get("city"), str), call
    with client.messages.stream(model="claude-small", max_tokens=256, tools=TOOLS, messages=question) as stream:
        final = stream.get_final_message()
    streamed_call = next(block for block in final.content if block.type == "tool_use")
    assert streamed_call.input == call.input, (streamed_call, call)
    follow_up = question + [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C and sunny"}]},
    ]
    for model in ["claude-small", "small"]:
        answer = client.messages.create(model=model, max_tokens=256, tools=TOOLS, messages=follow_up)
        assert answer.stop_reason == "end_turn" and answer.content[0].type == "text", answer

    # Listing, as the Anthropic SDK reads it.
    ids = {model.id for model in client.models.list()}
    assert {"auto", "small", "claude-small"} <= ids, ids

    # count_tokens.
    count = client.messages.count_tokens(model="auto", messages=[{"role": "user", "content": "Hello there"}])
    assert count.input_tokens > 0, count

    # Errors map to the SDK's exception types.
    try:
        client.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected NotFoundError")
    except anthropic.NotFoundError as error:
        assert error.status_code == 404 and "no-such-model" in str(error), error
    try:
        client.messages.create(
            model="small",
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}]}],
        )
        raise AssertionError("expected BadRequestError")
    except anthropic.BadRequestError as error:
        assert error.status_code == 400 and "toolu_x" in str(error), error

    # The other way round: the openai SDK reaching an Anthropic-dialect model.
    oai = openai.OpenAI(base_url=f"{base_url}/v1", api_key="not-needed", max_retries=0, timeout=30)
    completion = oai.chat.completions.create(
        model="claude-small", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}]
    )
    assert completion.model == "claude-small" and completion.choices[0].message.content, completion
    assert completion.choices[0].finish_reason == "stop" and completion.usage.total_tokens > 0
    stream = oai.chat.completions.create(
        model="claude-small", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Say hi."}],
    )
    text, usage = [], None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
    assert "".join(text) and usage is not None and usage.completion_tokens > 0, (text, usage)
    oai_tools = [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                   "parameters": t["input_schema"]}} for t in TOOLS]
    completion = oai.chat.completions.create(
        model="claude-small", tools=oai_tools, messages=[{"role": "user", "content": "Weather in Oslo?"}]
    )
    assert completion.choices[0].finish_reason == "tool_calls", completion
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and isinstance(json.loads(call.function.arguments).get("city"), str), call

    print("anthropic SDK", anthropic.__version__, "and openai SDK", openai.__version__, "against Switchyard: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
