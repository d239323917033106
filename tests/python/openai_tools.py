"""Agent traffic from the official `openai` Python SDK and the OpenAI Agents SDK through a
gated Switchyard route (gates `sanity`, `tool-args`, `json`).

Usage: python3 openai_tools.py BASE_URL GOOD_PROMPT BAD_PROMPT

GOOD_PROMPT is a weather question whose `sim-small` tool call is well formed (the test picks
it with the simulator's own rule); BAD_PROMPT one whose call `sim-small` breaks. Checks: tools
plain and streamed (the cheap model's valid call answered by the cheap model, a broken one
escalated), a multi-turn tool loop, structured outputs with `parse`, and an agent framework
(openai-agents, on the Chat Completions API) running a tool loop. Exits non-zero on the first
failed check.
"""

import asyncio
import json
import sys

import openai
from pydantic import BaseModel

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                "required": ["city"],
            },
        },
    }
]


def check_tools(client: openai.OpenAI, good: str, bad: str) -> None:
    # Plain: the cheap model's valid call is the answer.
    raw = client.chat.completions.with_raw_response.create(
        model="auto", tools=TOOLS, messages=[{"role": "user", "content": good}]
    )
    completion = raw.parse()
    assert raw.headers["x-switchyard-model"] == "small", raw.headers
    assert raw.headers["x-switchyard-attempts"] == "1", raw.headers
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] == "Paris", call

    # Streamed: the SDK assembles the deltas the proxy replayed.
    with client.chat.completions.with_streaming_response.create(
        model="auto", tools=TOOLS, stream=True, messages=[{"role": "user", "content": good}]
    ) as response:
        assert response.headers["x-switchyard-model"] == "small", response.headers
        args, name, finish = "", None, None
        for chunk in response.parse():
            for c in chunk.choices:
                for d in c.delta.tool_calls or []:
                    name = d.function.name or name
                    args += d.function.arguments or ""
                finish = c.finish_reason or finish
    assert (name, finish) == ("get_weather", "tool_calls"), (name, finish)
    assert json.loads(args)["city"] == "Paris", args

    # A broken call from the cheap model is escalated; the strong model's call is valid.
    for stream in (False, True):
        raw = client.chat.completions.with_raw_response.create(
            model="auto", tools=TOOLS, stream=stream, messages=[{"role": "user", "content": bad}]
        )
        assert raw.headers["x-switchyard-model"] == "large", raw.headers
        assert raw.headers["x-switchyard-attempts"] == "2", raw.headers
        if not stream:
            json.loads(raw.parse().choices[0].message.tool_calls[0].function.arguments)

    # The multi-turn loop: call, run the tool, answer in text.
    messages = [{"role": "user", "content": good}]
    first = client.chat.completions.create(model="auto", tools=TOOLS, messages=messages)
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"})
    raw = client.chat.completions.with_raw_response.create(model="auto", tools=TOOLS, messages=messages)
    final = raw.parse()
    assert raw.headers["x-switchyard-model"] == "small", raw.headers
    assert final.choices[0].finish_reason == "stop"
    assert "18 degrees and sunny" in final.choices[0].message.content, final

    # A tool result for a call that never happened is the client's error, in OpenAI's shape.
    try:
        client.chat.completions.create(
            model="auto", tools=TOOLS,
            messages=[{"role": "user", "content": good}, {"role": "tool", "tool_call_id": "call_ghost", "content": "x"}],
        )
        raise AssertionError("a ghost tool result was accepted")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and e.body["param"] == "messages[1]", e.body


class City(BaseModel):
    name: str
    country: str
    population: int


def check_parse(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="auto",
        response_format=City,
        messages=[{"role": "user", "content": "Describe the city of Lyon in France."}],
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, City), completion
    assert parsed.population >= 1
    assert completion.model == "large", completion.model  # sim-small answers no JSON; json-gate escalates


async def check_agent(base_url: str, good: str) -> None:
    from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)  # offline: no trace export
    seen = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        seen.append(city)
        return f"18 degrees and sunny in {city}"

    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=30)
    agent = Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        tools=[get_weather],
        model=OpenAIChatCompletionsModel(model="auto", openai_client=client),
    )
    result = await Runner.run(agent, good, run_config=RunConfig(tracing_disabled=True), max_turns=4)
    assert seen == ["Paris"], seen
    assert "18 degrees and sunny in Paris" in result.final_output, result.final_output


def check_embeddings(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="small", input=["a red apple", "a green pear"])
    result = raw.parse()
    assert raw.headers["x-switchyard-model"] == "small", raw.headers
    assert float(raw.headers["x-switchyard-cost-usd"]) > 0
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0, result
    assert result.usage.prompt_tokens > 0


def main(base_url: str, good: str, bad: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=30)
    check_embeddings(client)
    check_tools(client, good, bad)
    check_parse(client)
    asyncio.run(check_agent(base_url, good))
    print("openai tools, parse and agents: ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
