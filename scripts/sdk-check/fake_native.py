"""A fake Anthropic, Gemini and Cohere for meterr's unified /v1/chat/completions check: serves each
provider's NATIVE surface with the recorded fixtures in Tests/MeterrProvidersTests/Fixtures, checks
the shape of every native request the way the real API would (answering 400 in the provider's own
error shape when it is wrong), and serves the providers' OpenAI-compatible surfaces with the
openai-chat fixture so `x-meterr-wire: compatible` can be seen to reach them.

    POST /v1/messages                                   Anthropic Messages
    POST /v1beta/models/{m}:generateContent             Gemini
    POST /v1beta/models/{m}:streamGenerateContent?alt=sse
    POST /v2/chat                                       Cohere v2 chat
    POST /v1/chat/completions                           Anthropic's OpenAI-compatible surface
    POST /v1beta/openai/chat/completions                Gemini's OpenAI-compatible surface
    POST /compatibility/v1/chat/completions             Cohere's OpenAI-compatible surface

The fixture follows from the request: tools offered and the last message not a tool result → the
`-tools` fixture; Anthropic with the `json_output` tool forced → anthropic-messages-json.json; else
the plain one; `.sse` when the request streams. Every request is appended as one JSON line to the
file named by FAKE_NATIVE_LOG (path, query, headers, parsed body, the fixture answered or the error).
Streams go out chunked, each event split in two writes, as a real upstream's TCP reads may split them.

Failure injection: a request header `x-fake-fail: anthropic=429,gemini=500,cohere=context` makes a
(valid) request to a named provider's NATIVE path fail as that provider fails: a status (429 comes with
`retry-after: 7`) in the provider's own error shape, or `context` for its "prompt too long" 400. The
OpenAI-compatible surfaces ignore it. Injected failures are logged with `"injected": true`.

Usage: fake_native.py PORT    (keys expected: FAKE_NATIVE_KEYS='{"anthropic": "...", ...}', by default
the real-<PROVIDER>-key values scripts/sdk-check/run.sh gives meterr; FAKE_NATIVE_FIXTURES serves another
fixtures directory, e.g. altered copies, to see that unified_sdks.py notices)."""
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

FIXTURES = os.environ.get("FAKE_NATIVE_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "MeterrProvidersTests", "Fixtures")
KEYS = {"anthropic": "real-ANTHROPIC-key", "gemini": "real-GEMINI-key", "cohere": "real-COHERE-key"}
KEYS.update(json.loads(os.environ.get("FAKE_NATIVE_KEYS") or "{}"))
LOG = os.environ.get("FAKE_NATIVE_LOG")
LOG_LOCK = threading.Lock()

SERVED = ["anthropic-messages.json", "anthropic-messages.sse", "anthropic-messages-tools.json",
          "anthropic-messages-tools.sse", "anthropic-messages-json.json", "gemini-generate.json",
          "gemini-generate.sse", "gemini-generate-tools.json", "gemini-generate-tools.sse", "cohere-chat.json",
          "cohere-chat.sse", "cohere-chat-tools.json", "cohere-chat-tools.sse", "openai-chat.json", "openai-chat.sse"]


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


def sse_events(data):
    """The events of an SSE body as (event name or None, data text); blank-line separated."""
    events = []
    for block in data.decode().replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip(" "))
        events.append((name, "\n".join(lines)))
    return events


def check_fixtures():
    """Every fixture this fake serves parses: JSON bodies, and each SSE event's data ([DONE] aside)."""
    for name in SERVED:
        data = fixture(name)
        if name.endswith(".json"):
            json.loads(data)
        else:
            for event, text in sse_events(data):
                if text != "[DONE]":
                    payload = json.loads(text)
                    if event is not None and payload.get("type") != event:
                        raise ValueError(f"{name}: event {event} carries type {payload.get('type')}")


class Invalid(Exception):
    """A request the real provider would refuse: (status, message, provider-specific extras)."""

    def __init__(self, status, message, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def camel(obj):
    """Google's JSON mapping accepts snake_case field names too; look at a level with camelCase keys."""
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        parts = key.split("_")
        out[parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])] = value
    return out


def require(condition, message, status=400, **extra):
    if not condition:
        raise Invalid(status, message, **extra)


# ---------------------------------------------------------------- Anthropic Messages

ANTHROPIC_TOP = {"model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature", "top_p",
                 "top_k", "tools", "tool_choice", "metadata", "thinking", "service_tier", "container",
                 "mcp_servers", "context_management"}


def anthropic_request(headers, body):
    key = headers.get("x-api-key")
    require(key is not None, "x-api-key header is required", 401, kind="authentication_error")
    require(key == KEYS["anthropic"], "invalid x-api-key", 401, kind="authentication_error")
    require(headers.get("anthropic-version") == "2023-06-01",
            f"anthropic-version: header must be 2023-06-01 (got {headers.get('anthropic-version')!r})")
    require(isinstance(body, dict), "body: the request body is not a JSON object")
    extra = sorted(set(body) - ANTHROPIC_TOP)
    require(not extra, f"{', '.join(extra)}: Extra inputs are not permitted")
    model = body.get("model")
    require(isinstance(model, str) and model and "/" not in model, f"model: invalid model name {model!r}")
    max_tokens = body.get("max_tokens")
    require(isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0,
            "max_tokens: Field required" if max_tokens is None else f"max_tokens: must be a positive integer, got {max_tokens!r}")
    if "temperature" in body:
        require(isinstance(body["temperature"], (int, float)) and 0 <= body["temperature"] <= 1,
                f"temperature: must be between 0 and 1, got {body['temperature']!r}")
        require("top_p" not in body, "`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    if "stop_sequences" in body:
        seqs = body["stop_sequences"]
        require(isinstance(seqs, list) and all(isinstance(s, str) and s.strip() for s in seqs),
                f"stop_sequences: each stop sequence must contain non-whitespace, got {seqs!r}")
    if "stream" in body:
        require(isinstance(body["stream"], bool), "stream: Input should be a valid boolean")
    system = body.get("system")
    if system is not None:
        require(isinstance(system, str) or (isinstance(system, list) and system and all(
            isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str) and b["text"]
            for b in system)), f"system: must be a string or a list of non-empty text blocks, got {system!r}")
    tools = body.get("tools")
    names = set()
    if tools is not None:
        require(isinstance(tools, list), "tools: Input should be a valid list")
        for i, tool in enumerate(tools):
            require(isinstance(tool, dict), f"tools.{i}: Input should be an object")
            require(tool.get("type") in (None, "custom"), f"tools.{i}.type: unknown tool type {tool.get('type')!r}")
            unknown = sorted(set(tool) - {"name", "description", "input_schema", "type", "cache_control"})
            require(not unknown, f"tools.{i}.{unknown[0] if unknown else ''}: Extra inputs are not permitted")
            require(isinstance(tool.get("name"), str) and tool["name"], f"tools.{i}.name: Field required")
            schema = tool.get("input_schema")
            require(isinstance(schema, dict) and schema.get("type") == "object",
                    f"tools.{i}.input_schema: must be a JSON schema with type object, got {schema!r}")
            names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        require(isinstance(choice, dict) and choice.get("type") in ("auto", "any", "tool", "none"),
                f"tool_choice: must be an object with type auto|any|tool|none, got {choice!r}")
        require(tools or choice["type"] == "none", "tool_choice: may only be specified while providing tools")
        if choice["type"] == "tool":
            require(choice.get("name") in names, f"tool_choice.name: no tool named {choice.get('name')!r}")
    messages = body.get("messages")
    require(isinstance(messages, list) and messages, "messages: Field required" if messages is None else "messages: at least one message is required")
    pending = set()  # tool_use ids of the previous assistant turn, each needing a tool_result next
    for i, message in enumerate(messages):
        require(isinstance(message, dict), f"messages.{i}: Input should be an object")
        role = message.get("role")
        require(role in ("user", "assistant"),
                f'messages.{i}.role: Input should be "user" or "assistant" (got {role!r}; system prompts go in the top-level "system")')
        content = message.get("content")
        if isinstance(content, str):
            require(content != "", f"messages.{i}: text content blocks must be non-empty")
            blocks = [{"type": "text", "text": content}]
        else:
            require(isinstance(content, list) and content, f"messages.{i}.content: must be a string or a non-empty list")
            blocks = content
        results = set()
        uses = set()
        for j, block in enumerate(blocks):
            at = f"messages.{i}.content.{j}"
            require(isinstance(block, dict), f"{at}: Input should be an object")
            kind = block.get("type")
            allowed = {"user": ("text", "image", "document", "tool_result"),
                       "assistant": ("text", "tool_use", "thinking", "redacted_thinking")}[role]
            require(kind in allowed, f"{at}.type: {kind!r} is not allowed in a {role} message")
            if kind == "text":
                require(isinstance(block.get("text"), str) and block["text"] != "", f"{at}: text content blocks must be non-empty")
            elif kind == "image":
                source = block.get("source")
                require(isinstance(source, dict) and source.get("type") in ("base64", "url"), f"{at}.source: must be base64 or url")
                if source["type"] == "base64":
                    require(source.get("media_type") in ("image/jpeg", "image/png", "image/gif", "image/webp"),
                            f"{at}.source.media_type: unsupported {source.get('media_type')!r}")
                    require(isinstance(source.get("data"), str) and source["data"] and not source["data"].startswith("data:"),
                            f"{at}.source.data: must be bare base64 (no data: URL prefix)")
                else:
                    require(isinstance(source.get("url"), str) and source["url"].startswith("http"), f"{at}.source.url: must be an http(s) URL")
            elif kind == "tool_use":
                require(isinstance(block.get("id"), str) and block["id"], f"{at}.id: Field required")
                require(isinstance(block.get("name"), str) and block["name"], f"{at}.name: Field required")
                require(isinstance(block.get("input"), dict), f"{at}.input: Input should be a valid dictionary (got {block.get('input')!r})")
                uses.add(block["id"])
            elif kind == "tool_result":
                require(isinstance(block.get("tool_use_id"), str), f"{at}.tool_use_id: Field required")
                require(block["tool_use_id"] in pending,
                        f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")
                results.add(block["tool_use_id"])
                inner = block.get("content")
                require(inner is None or isinstance(inner, str) or isinstance(inner, list), f"{at}.content: must be a string or a list")
        if pending:
            missing = pending - results
            require(not missing, f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {', '.join(sorted(missing))}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.")
            require(all(b.get("type") == "tool_result" for b in blocks[:len(results)]),
                    f"messages.{i}: tool_result blocks must come first in the user message that answers tool_use")
        if uses and tools is None:
            raise Invalid(400, f"messages.{i}: tool_use blocks require `tools` to be defined")
        pending = uses
    require(not pending, f"messages.{len(messages) - 1}: the last message has tool_use blocks with no tool_result after them")
    last = messages[-1]
    last_blocks = last["content"] if isinstance(last["content"], list) else []
    answered_tools = last["role"] == "user" and any(b.get("type") == "tool_result" for b in last_blocks)
    stream = body.get("stream") is True
    if choice and choice.get("type") == "tool" and choice.get("name") == "json_output":
        require(not stream, "fake_native: there is no streamed json_output fixture (anthropic-messages-json.sse)", 500,
                kind="api_error")
        name = "anthropic-messages-json"
    elif tools and not answered_tools:
        name = "anthropic-messages-tools"
    else:
        name = "anthropic-messages"
    return name + (".sse" if stream else ".json"), stream


def anthropic_error(error):
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error",
             500: "api_error", 529: "overloaded_error"}
    kind = error.extra.get("kind") or kinds.get(error.status, "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}, "request_id": "req_fake_native"}


# ---------------------------------------------------------------- Gemini generateContent

GEMINI_TOP = {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "safetySettings",
              "cachedContent", "labels", "model"}
GEMINI_CONFIG = {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "candidateCount",
                 "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty", "frequencyPenalty",
                 "responseLogprobs", "logprobs", "thinkingConfig", "responseModalities", "speechConfig",
                 "mediaResolution", "enableEnhancedCivicAnswers", "routingConfig", "imageConfig"}
# The OpenAPI 3.0 subset Gemini's `Schema` takes (responseSchema, functionDeclarations[].parameters).
GEMINI_SCHEMA = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
                 "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
                 "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
GEMINI_DATA = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
               "codeExecutionResult"}
GEMINI_PART_META = {"thought", "thoughtSignature", "videoMetadata", "partMetadata"}


def gemini_schema(schema, at):
    """Unknown names in a `Schema` are refused as the real API does (`additionalProperties`, `$ref`, `strict`, …)."""
    require(isinstance(schema, dict), f"Invalid JSON payload received. {at}: a schema must be an object")
    for key, value in schema.items():
        require(key in GEMINI_SCHEMA, f'Invalid JSON payload received. Unknown name "{key}" at \'{at}\': Cannot find field.')
        if key == "properties":
            require(isinstance(value, dict), f"Invalid JSON payload received. {at}.properties must be an object")
            for name, sub in value.items():
                gemini_schema(sub, f"{at}.properties[{name}].value")
        elif key == "items":
            gemini_schema(value, f"{at}.items")
        elif key == "anyOf":
            for k, sub in enumerate(value):
                gemini_schema(sub, f"{at}.any_of[{k}]")


def gemini_request(headers, path, query, body):
    key = headers.get("x-goog-api-key") or (query.get("key") or [None])[0]
    require(key is not None or "authorization" not in headers,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            401, status_name="UNAUTHENTICATED")
    require(key is not None, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            403, status_name="PERMISSION_DENIED")
    require(key == KEYS["gemini"], "API key not valid. Please pass a valid API key.", 400, reason="API_KEY_INVALID")
    require(path.startswith("/v1beta/models/"), f"fake_native: meterr must call Gemini under /v1beta/models/, not {path}",
            404, status_name="NOT_FOUND")
    model, _, method = path.split("/models/", 1)[1].partition(":")
    require(model and "/" not in model, f"models/{model} is not found for API version v1beta", 404, status_name="NOT_FOUND")
    require(method in ("generateContent", "streamGenerateContent"), f"fake_native: unknown method :{method}", 404,
            status_name="NOT_FOUND")
    stream = method == "streamGenerateContent"
    if stream:
        require(query.get("alt") == ["sse"],
                "fake_native: streamGenerateContent without ?alt=sse answers a JSON array, which this fake does not serve (the contract is ?alt=sse)")
    require(isinstance(body, dict), "Invalid JSON payload received. The body is not an object.")
    body = camel(body)
    unknown = sorted(set(body) - GEMINI_TOP)
    require(not unknown, f'Invalid JSON payload received. Unknown name "{unknown[0] if unknown else ""}": Cannot find field.')
    system = body.get("systemInstruction")
    if system is not None:
        system = camel(system)
        require(isinstance(system.get("parts"), list) and system["parts"] and all(
            isinstance(p, dict) and isinstance(p.get("text"), str) for p in system["parts"]),
            f"systemInstruction: must be a Content with text parts, got {system!r}")
        require(system.get("role") in (None, "user", "system"), f"systemInstruction.role: unexpected {system.get('role')!r}")
    config = camel(body.get("generationConfig") or {})
    unknown = sorted(set(config) - GEMINI_CONFIG)
    require(not unknown, f'Invalid JSON payload received. Unknown name "{unknown[0] if unknown else ""}" at \'generation_config\': Cannot find field.')
    if "responseSchema" in config:
        gemini_schema(config["responseSchema"], "generation_config.response_schema")
        require(config.get("responseMimeType") in ("application/json", "text/x.enum"),
                "responseSchema requires responseMimeType application/json")
    if "maxOutputTokens" in config:
        require(isinstance(config["maxOutputTokens"], int) and config["maxOutputTokens"] > 0,
                f"generationConfig.maxOutputTokens: must be a positive integer, got {config['maxOutputTokens']!r}")
    if "stopSequences" in config:
        require(isinstance(config["stopSequences"], list) and len(config["stopSequences"]) <= 5,
                "generationConfig.stopSequences: at most 5 strings")
    declared = set()
    for i, tool in enumerate(body.get("tools") or []):
        tool = camel(tool)
        for j, declaration in enumerate(tool.get("functionDeclarations") or []):
            declaration = camel(declaration)
            require(isinstance(declaration.get("name"), str) and declaration["name"],
                    f"tools[{i}].function_declarations[{j}].name: is required")
            if "parameters" in declaration:
                gemini_schema(declaration["parameters"], f"tools[{i}].function_declarations[{j}].parameters")
            declared.add(declaration["name"])
    if "toolConfig" in body:
        calling = camel(camel(body["toolConfig"]).get("functionCallingConfig") or {})
        require(calling.get("mode", "AUTO") in ("AUTO", "ANY", "NONE", "VALIDATED"),
                f"toolConfig.functionCallingConfig.mode: invalid {calling.get('mode')!r}")
        for name in calling.get("allowedFunctionNames") or []:
            require(name in declared, f"allowedFunctionNames: {name!r} is not a declared function")
    contents = body.get("contents")
    require(isinstance(contents, list) and contents, "* GenerateContentRequest.contents: contents is not specified")
    previous_calls = []
    for i, content in enumerate(contents):
        content = camel(content)
        require(content.get("role") in ("user", "model"),
                f"Please use a valid role: user, model. (contents[{i}].role is {content.get('role')!r})")
        parts = content.get("parts")
        require(isinstance(parts, list) and parts, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        calls, responses = [], []
        for j, part in enumerate(parts):
            part = camel(part)
            at = f"contents[{i}].parts[{j}]"
            data = [k for k in part if k in GEMINI_DATA]
            unknown = sorted(set(part) - GEMINI_DATA - GEMINI_PART_META)
            require(not unknown, f'Invalid JSON payload received. Unknown name "{unknown[0] if unknown else ""}" at \'{at}\'')
            require(len(data) == 1, f"* GenerateContentRequest.{at}.data: required oneof field 'data' must have one initialized field (got {data})")
            kind = data[0]
            value = part[kind]
            if kind == "text":
                require(isinstance(value, str), f"{at}.text: must be a string")
            elif kind == "inlineData":
                value = camel(value)
                require(isinstance(value.get("mimeType"), str) and value["mimeType"] and isinstance(value.get("data"), str)
                        and value["data"] and not value["data"].startswith("data:"),
                        f"{at}.inline_data: needs mimeType and bare base64 data, got keys {sorted(value)}")
            elif kind == "functionCall":
                require(content["role"] == "model", f"{at}: functionCall parts belong to the model role")
                require(isinstance(value.get("name"), str) and isinstance(value.get("args", {}), dict),
                        f"{at}.function_call: needs a name and an object args, got {value!r}")
                calls.append(value["name"])
            elif kind == "functionResponse":
                require(content["role"] == "user", f"{at}: functionResponse parts belong to the user role")
                require(isinstance(value.get("name"), str) and isinstance(value.get("response"), dict),
                        f"{at}.function_response: needs a name and an object response, got {value!r}")
                responses.append(value["name"])
        if responses:
            require(len(responses) == len(previous_calls),
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
            require(sorted(responses) == sorted(previous_calls),
                    f"contents[{i}]: functionResponse names {responses} do not match the function calls {previous_calls}")
        previous_calls = calls
    last = camel(contents[-1])
    answered = any("functionResponse" in camel(p) for p in last["parts"])
    name = "gemini-generate-tools" if declared and not answered else "gemini-generate"
    return name + (".sse" if stream else ".json"), stream


def gemini_error(error):
    status_name = error.extra.get("status_name") or {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                                                     404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                                                     503: "UNAVAILABLE"}.get(error.status, "INVALID_ARGUMENT")
    body = {"error": {"code": error.status, "message": error.message, "status": status_name}}
    if error.extra.get("reason"):
        body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error.extra["reason"],
                                     "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]
    return body


# ---------------------------------------------------------------- Cohere v2 chat

COHERE_TOP = {"model", "messages", "stream", "tools", "strict_tools", "documents", "citation_options",
              "response_format", "safety_mode", "max_tokens", "stop_sequences", "temperature", "seed",
              "frequency_penalty", "presence_penalty", "k", "p", "logprobs", "tool_choice", "thinking", "priority"}


def cohere_request(headers, body):
    auth = headers.get("authorization")
    require(auth is not None, "no api key supplied", 401)
    require(auth == f"Bearer {KEYS['cohere']}", "invalid api token" if auth.startswith("Bearer ") else "no api key supplied: send Authorization: Bearer <key>", 401)
    require(isinstance(body, dict), "invalid request: the body is not a JSON object")
    unknown = sorted(set(body) - COHERE_TOP)
    require(not unknown, f"invalid request: unknown field(s) {', '.join(unknown)}")
    model = body.get("model")
    require(isinstance(model, str) and model and "/" not in model, f"model '{model}' not found, make sure the correct model ID was used")
    if "stream" in body:
        require(isinstance(body["stream"], bool), "invalid request: stream must be a boolean")
    fmt = body.get("response_format")
    if fmt is not None:
        require(isinstance(fmt, dict) and fmt.get("type") in ("text", "json_object"),
                f"invalid request: response_format.type must be text or json_object, got {fmt!r}")
        if "json_schema" in fmt:
            require(fmt["type"] == "json_object" and isinstance(fmt["json_schema"], dict),
                    "invalid request: response_format.json_schema goes with type json_object")
    if "tool_choice" in body:
        require(body["tool_choice"] in ("REQUIRED", "NONE"), f"invalid request: tool_choice must be REQUIRED or NONE, got {body['tool_choice']!r}")
    if "stop_sequences" in body:
        require(isinstance(body["stop_sequences"], list) and len(body["stop_sequences"]) <= 5,
                "invalid request: stop_sequences takes at most 5 strings")
    tools = body.get("tools")
    if tools is not None:
        require(isinstance(tools, list), "invalid request: tools must be a list")
        for i, tool in enumerate(tools):
            require(isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict)
                    and isinstance(tool["function"].get("name"), str),
                    f"invalid request: tools[{i}] must be {{type: function, function: {{name, parameters}}}}, got {tool!r}")
    messages = body.get("messages")
    require(isinstance(messages, list) and messages, "invalid request: messages must be a non-empty list")
    open_calls = set()
    for i, message in enumerate(messages):
        require(isinstance(message, dict), f"invalid request: messages[{i}] must be an object")
        role = message.get("role")
        require(role in ("system", "user", "assistant", "tool"), f"invalid request: messages[{i}].role {role!r} is not one of system, user, assistant, tool")
        content = message.get("content")
        if role == "tool":
            require(message.get("tool_call_id") in open_calls,
                    f"invalid request: messages[{i}].tool_call_id {message.get('tool_call_id')!r} answers no tool call of the assistant message before it")
            require(isinstance(content, (str, list)) and content, f"invalid request: messages[{i}].content of a tool message is required")
            open_calls.discard(message["tool_call_id"])
            continue
        require(not open_calls, f"invalid request: tool calls {sorted(open_calls)} have no tool message after them")
        if role == "assistant" and message.get("tool_calls"):
            for j, call in enumerate(message["tool_calls"]):
                require(isinstance(call, dict) and isinstance(call.get("id"), str) and call.get("type") == "function"
                        and isinstance(call.get("function"), dict) and isinstance(call["function"].get("name"), str)
                        and isinstance(call["function"].get("arguments"), str),
                        f"invalid request: messages[{i}].tool_calls[{j}] must be {{id, type: function, function: {{name, arguments: string}}}}, got {call!r}")
                open_calls.add(call["id"])
        else:
            require(isinstance(content, str) and content or isinstance(content, list) and content,
                    f"invalid request: messages[{i}].content is required")
            if isinstance(content, list):
                for j, part in enumerate(content):
                    require(isinstance(part, dict) and part.get("type") in ("text", "image_url", "document", "thinking"),
                            f"invalid request: messages[{i}].content[{j}].type {part.get('type') if isinstance(part, dict) else part!r} is not supported")
    require(not open_calls, f"invalid request: tool calls {sorted(open_calls)} have no tool message after them")
    stream = body.get("stream") is True
    name = "cohere-chat-tools" if tools and messages[-1]["role"] != "tool" else "cohere-chat"
    return name + (".sse" if stream else ".json"), stream


def cohere_error(error):
    return {"id": "fake-native-error", "message": error.message}


# ---------------------------------------------------------------- OpenAI-compatible surfaces

COMPATIBLE = {"/v1/chat/completions": "anthropic", "/v1beta/openai/chat/completions": "gemini",
              "/compatibility/v1/chat/completions": "cohere"}


def compatible_request(provider, headers, body):
    auth = headers.get("authorization")
    require(auth == f"Bearer {KEYS[provider]}", "Incorrect API key provided (Authorization: Bearer <the provider key> expected)", 401)
    require(isinstance(body, dict) and isinstance(body.get("messages"), list) and body["messages"],
            "messages: a non-empty list is required")
    model = body.get("model")
    require(isinstance(model, str) and model and "/" not in model, f"model: invalid model name {model!r}")
    stream = body.get("stream") is True
    return ("openai-chat.sse" if stream else "openai-chat.json"), stream


def openai_error(error):
    return {"error": {"message": error.message, "type": "invalid_request_error", "param": None, "code": None}}


# ---------------------------------------------------------------- injected failures

# Each provider's words for a failure, as its real API answers it (status → (message, extras)).
FAILURES = {
    "anthropic": {
        429: ("This request would exceed the rate limit for your organization of 50 requests per minute. "
              "For details, refer to: https://docs.claude.com/en/api/rate-limits.", {"kind": "rate_limit_error"}),
        500: ("Internal server error", {"kind": "api_error"}),
        502: ("Bad gateway", {"kind": "api_error"}),
        503: ("Service unavailable", {"kind": "api_error"}),
        529: ("Overloaded", {"kind": "overloaded_error"}),
        "context": ("prompt is too long: 208310 tokens > 200000 maximum", {"kind": "invalid_request_error"}),
    },
    "gemini": {
        429: ("Resource has been exhausted (e.g. check quota).", {"status_name": "RESOURCE_EXHAUSTED"}),
        500: ("An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
              {"status_name": "INTERNAL"}),
        503: ("The model is overloaded. Please try again later.", {"status_name": "UNAVAILABLE"}),
        "context": ("The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                    {"status_name": "INVALID_ARGUMENT"}),
    },
    "cohere": {
        429: ("You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the "
              "Trial key for free or upgrade to a Production key with higher rate limits at "
              "'https://dashboard.cohere.com/api-keys'. Contact us on 'https://discord.gg/XW44jPfYJu' or email us "
              "at support@cohere.com with any questions", {}),
        500: ("internal server error, this has been reported to our developers. id 4b2a6b1d1a3e4f3c9f0e", {}),
        503: ("service unavailable", {}),
        "context": ("too many tokens: size limit exceeded by 12345 tokens. Try using shorter or fewer inputs, or "
                    "setting prompt_truncation='AUTO'.", {}),
    },
}


def injected_failure(headers, provider):
    """The Invalid that `x-fake-fail` asks this provider to answer with, or None."""
    spec = headers.get("x-fake-fail")
    if not spec:
        return None
    for item in spec.split(","):
        name, _, what = item.strip().partition("=")
        if name.strip() != provider:
            continue
        what = what.strip()
        if what == "context":
            message, extra = FAILURES[provider]["context"]
            return Invalid(400, message, **extra)
        status = int(what)
        message, extra = FAILURES[provider].get(status, (f"fake_native: injected {status}", {}))
        return Invalid(status, message, **extra)
    return None


# ---------------------------------------------------------------- the server

def route(path):
    """(provider, surface) of a path, or None."""
    if path == "/v1/messages":
        return "anthropic", "native"
    if path.startswith("/v1beta/models/") or path.startswith("/v1/models/"):
        return "gemini", "native"
    if path == "/v2/chat":
        return "cohere", "native"
    if path in COMPATIBLE:
        return COMPATIBLE[path], "compatible"
    return None


def record(entry):
    if not LOG:
        return
    with LOG_LOCK, open(LOG, "a") as log:
        log.write(json.dumps(entry) + "\n")
        log.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer_json(self, status, payload, extra_headers=()):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for name, value in extra_headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.not_found()

    def not_found(self, body=None):
        path = urllib.parse.urlsplit(self.path).path
        record({"ts": time.time(), "method": self.command, "path": path, "surface": None, "status": 404,
                "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "fixture": None,
                "error": "no such path on this fake"})
        self.answer_json(404, {"error": {"message": f"fake_native: no route for {self.command} {path}", "type": "not_found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, urllib.parse.parse_qs(split.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode(errors="replace")
        where = route(path)
        if where is None:
            self.not_found(body)
            return
        provider, surface = where
        entry = {"ts": time.time(), "method": "POST", "path": path, "query": split.query, "provider": provider,
                 "surface": surface, "headers": headers, "body": body, "fixture": None, "status": 200, "error": None}
        try:
            if isinstance(body, str):
                raise Invalid(400, "the request body is not JSON")
            if surface == "compatible":
                name, stream = compatible_request(provider, headers, body)
            elif provider == "anthropic":
                name, stream = anthropic_request(headers, body)
            elif provider == "gemini":
                name, stream = gemini_request(headers, path, query, body)
            else:
                name, stream = cohere_request(headers, body)
            # A valid request may still be answered with the failure the caller asked for.
            injected = injected_failure(headers, provider) if surface == "native" else None
            if injected is not None:
                entry["injected"] = True
                raise injected
        except Invalid as error:
            entry.update(status=error.status, error=error.message)
            record(entry)
            shape = openai_error if surface == "compatible" else {
                "anthropic": anthropic_error, "gemini": gemini_error, "cohere": cohere_error}[provider]
            self.answer_json(error.status, shape(error), [("retry-after", "7")] if error.status == 429 else [])
            return
        entry["fixture"] = name
        record(entry)
        data = fixture(name)
        if surface == "compatible":
            # The provider's compatible layer names its own model, not OpenAI's.
            data = data.replace(b"gpt-4.1-2025-04-14", body["model"].encode())
        request_id = ("request-id", "req_fake_" + name.replace(".", "_")) if provider == "anthropic" else \
            ("x-request-id", "fake-" + name)
        if not stream:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header(*request_id)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header(*request_id)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in data.split(b"\n\n"):
            if not event.strip():
                continue
            event += b"\n\n"
            half = len(event) // 2
            for piece in (event[:half], event[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


if __name__ == "__main__":
    check_fixtures()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
