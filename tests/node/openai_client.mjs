// The official `openai` Node SDK (pinned in package.json) as a client of a running Switchyard
// on a gated route (gates `sanity`, `tool-args`, `json`).
//
// Usage: node openai_client.mjs BASE_URL GOOD_PROMPT BAD_PROMPT
//
// GOOD_PROMPT is a weather question whose `sim-small` tool call is well formed, BAD_PROMPT one
// whose call it breaks. Checks tools plain and streamed, a multi-turn tool loop (the SDK's
// own `runTools` helper), structured outputs with `parse`, and an OpenAI-shaped 400. Exits
// non-zero on the first failed check.
import assert from "node:assert/strict";
import OpenAI from "openai";

const [base, good, bad] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base, apiKey: "not-needed", maxRetries: 0, timeout: 30_000 });

const weather = {
  type: "object",
  properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["city"],
};
const tools = [{ type: "function", function: { name: "get_weather", description: "Current weather in a city", parameters: weather } }];

// Plain: the cheap model's valid call is the answer.
{
  const { data, response } = await client.chat.completions
    .create({ model: "auto", tools, messages: [{ role: "user", content: good }] })
    .withResponse();
  assert.equal(response.headers.get("x-switchyard-model"), "small");
  assert.equal(data.choices[0].finish_reason, "tool_calls");
  const call = data.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, "get_weather");
  assert.equal(JSON.parse(call.function.arguments).city, "Paris");
}

// Streamed, assembled by the SDK's stream helper.
{
  const stream = client.chat.completions.stream({ model: "auto", tools, messages: [{ role: "user", content: good }] });
  const final = await stream.finalChatCompletion();
  const call = final.choices[0].message.tool_calls[0];
  assert.equal(final.model, "small");
  assert.equal(final.choices[0].finish_reason, "tool_calls");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "celsius" });
}

// A broken call from the cheap model is escalated, plain and streamed.
for (const streamed of [false, true]) {
  const { response } = await client.chat.completions
    .create({ model: "auto", tools, stream: streamed, messages: [{ role: "user", content: bad }] })
    .withResponse();
  assert.equal(response.headers.get("x-switchyard-model"), "large", `stream=${streamed}`);
  assert.equal(response.headers.get("x-switchyard-attempts"), "2");
}

// A multi-turn tool loop with the SDK's runner: call, run the tool, answer in text.
{
  const seen = [];
  const runner = client.chat.completions.runTools({
    model: "auto",
    messages: [{ role: "user", content: good }],
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Current weather in a city",
          parameters: weather,
          parse: JSON.parse,
          function: ({ city }) => {
            seen.push(city);
            return `18 degrees and sunny in ${city}`;
          },
        },
      },
    ],
  });
  const text = await runner.finalContent();
  assert.deepEqual(seen, ["Paris"]);
  assert.match(text, /18 degrees and sunny in Paris/);
}

// Structured outputs with `parse`: sim-small answers no JSON, json-gate escalates.
{
  const completion = await client.chat.completions.parse({
    model: "auto",
    messages: [{ role: "user", content: "Describe the city of Lyon in France." }],
    response_format: {
      type: "json_schema",
      json_schema: {
        name: "city",
        strict: true,
        schema: {
          type: "object",
          properties: { name: { type: "string" }, country: { type: "string" }, population: { type: "integer" } },
          required: ["name", "country", "population"],
          additionalProperties: false,
        },
      },
    },
  });
  const parsed = completion.choices[0].message.parsed;
  assert.equal(completion.model, "large");
  assert.equal(typeof parsed.name, "string");
  assert.ok(Number.isInteger(parsed.population));
}

// Bad input: an OpenAI-shaped 400 the SDK raises as BadRequestError.
await assert.rejects(
  client.chat.completions.create({
    model: "auto",
    messages: [{ role: "user", content: [{ type: "hologram", data: "x" }] }],
  }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "messages[0].content[0].type",
);

console.log("openai node sdk: ok");
