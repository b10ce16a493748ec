"""Checks `meterr mcp` with the official MCP Python client (stdio), as an agent would use it."""
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

URL = os.environ["METERR_URL"]
ADMIN = os.environ["METERR_ADMIN_KEY"]
BINARY = os.environ["METERR_BINARY"]
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def api(method, path, body=None, key=ADMIN):
    request = urllib.request.Request(
        URL + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def event(event_id, team, model, input_tokens, output_tokens):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": event_id, "ts": now, "provider": "openai", "model": model, "team": team,
            "input_tokens": input_tokens, "output_tokens": output_tokens}


def is_error(result):
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


def text(result):
    return "".join(part.text for part in result.content if part.type == "text")


async def session_for(key, body):
    params = StdioServerParameters(command=BINARY, args=["mcp"], env={"METERR_URL": URL, "METERR_KEY": key})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)


async def http_session_for(key, body):
    """The same tools on `meterr serve`'s own /mcp endpoint (streamable HTTP), behind the key."""
    client = create_mcp_http_client(headers={"authorization": f"Bearer {key}"})
    async with client:
        async with streamable_http_client(URL + "/mcp", http_client=client, terminate_on_close=False) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await body(session)


async def main():
    # Organisation A: three teams' calls and a budget. Organisation B: one call of its own.
    api("POST", "/api/usage/events", [
        event("mcp-1", "search", "gpt-4o", 1_000_000, 100_000),   # 2.50 + 1.00 = 3.50
        event("mcp-2", "ml", "gpt-4o-mini", 1_000_000, 0),        # 0.15
        event("mcp-3", "ml", "gpt-4o-mini", 1_000_000, 0),        # 0.15
        event("mcp-4", "web", "gpt-4o", 0, 10_000),                # 0.10
    ])
    api("POST", "/api/budgets", {"name": "search", "scope": "team", "value": "search", "limit_usd": "10",
                                  "hard": True})
    other = api("POST", "/api/orgs", {"name": "Other"})["admin_key"]
    api("POST", "/api/usage/events", [event("mcp-b1", "secret-team", "gpt-4o", 1_000_000, 0)], key=other)
    month = datetime.now(timezone.utc).strftime("%Y-%m-01T00:00:00Z")

    async def as_a(session):
        tools = {tool.name for tool in (await session.list_tools()).tools}
        check(tools == {"count_tokens", "estimate_cost", "spend_summary", "budget_status", "top_spenders",
                        "price_lookup", "savings_report"}, f"tools/list names the seven tools ({sorted(tools)})")
        resources = (await session.list_resources()).resources
        check([str(r.uri) for r in resources] == ["meterr://prices"], "resources/list offers the price catalog")
        catalog = json.loads((await session.read_resource("meterr://prices")).contents[0].text)
        check(any(m["model"] == "gpt-4o" for m in catalog["models"]), "the catalog resource holds gpt-4o")

        counted = json.loads(text(await session.call_tool("count_tokens", {"model": "gpt-4o", "text": "hello world"})))
        check(counted == {"tokens": 2, "exact": True, "encoding": "o200k_base"}, f"count_tokens: {counted}")

        quote = json.loads(text(await session.call_tool(
            "estimate_cost", {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 200})))
        check(quote["cost_usd"] == "0.004500000", f"estimate_cost from counts: {quote['cost_usd']}")
        worst = json.loads(text(await session.call_tool("estimate_cost", {"request": {
            "model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hello world"}]}})))
        check(worst["cost_usd"] is not None and worst["cost_usd"] >= "0.010000000",
              f"estimate_cost of a request body prices its max_tokens as the worst case: {worst['cost_usd']}")

        summary = json.loads(text(await session.call_tool("spend_summary", {"group_by": "team", "from": month})))
        by_team = {g["team"]: g["cost_usd"] for g in summary["groups"]}
        check(by_team == {"search": "3.500000000", "ml": "0.300000000", "web": "0.100000000"},
              f"spend_summary by team: {by_team}")
        check(summary["totals"]["cost_usd"] == "3.900000000", "spend_summary total is 3.90")

        top = json.loads(text(await session.call_tool("top_spenders", {"by": "team", "limit": 2, "from": month})))
        check([(r["name"], r["cost_usd"], r["share_percent"]) for r in top["top"]]
              == [("search", "3.500000000", "89.7"), ("ml", "0.300000000", "7.7")], f"top_spenders: {top['top']}")

        budgets = json.loads(text(await session.call_tool("budget_status", {})))["budgets"]
        check([(b["name"], b["spent_usd"], b["hard"]) for b in budgets] == [("search", "3.500000000", True)],
              f"budget_status: {[(b['name'], b['spent_usd']) for b in budgets]}")

        price = json.loads(text(await session.call_tool("price_lookup", {"model": "gpt-4o"})))
        check(price["models"][0]["model"] == "gpt-4o" and price["models"][0]["versions"][-1]["input"] == "2.5",
              "price_lookup gpt-4o: input 2.50 per million")
        snapshot = json.loads(text(await session.call_tool("price_lookup", {"model": "claude-sonnet-4-5-20250929"})))
        check(snapshot["models"][0]["model"] == "claude-sonnet-4-5", "price_lookup finds a model by its alias")

        savings = json.loads(text(await session.call_tool("savings_report", {"from": month})))
        check(savings["calls"] == 4 and savings["spend_usd"] == "3.900000000" and "findings" in savings,
              f"savings_report reads the organisation's calls: {savings['calls']} calls, {savings['spend_usd']}")

        for name, arguments, what in [
            ("spend_summary", {"group_by": "colour"}, "an unknown grouping"),
            ("savings_report", {"to": "tomorrow"}, "a savings window that is not RFC 3339"),
            ("count_tokens", {"text": "no model"}, "a missing model"),
            ("estimate_cost", {"model": "gpt-4o", "input_tokens": -5}, "a negative count"),
            ("top_spenders", {"limit": 1000}, "a limit over 100"),
            ("spend_summary", {"from": "yesterday"}, "a time that is not RFC 3339"),
            ("price_lookup", {"model": "no-such-model-anywhere"}, "an unknown model"),
            ("no_such_tool", {}, "an unknown tool"),
        ]:
            try:
                result = await session.call_tool(name, arguments)
                check(is_error(result), f"{what} is refused ({text(result)[:80]})")
            except MCPError as error:
                check(error.error.code == -32602, f"{what} is an invalid-params error: {error.error.message[:80]}")
        # The server is still there after the bad calls.
        again = json.loads(text(await session.call_tool("count_tokens", {"model": "gpt-4o", "text": "hi"})))
        check(again["tokens"] == 1, "the server keeps serving after bad arguments")

    async def as_b(session):
        summary = json.loads(text(await session.call_tool("spend_summary", {"group_by": "team", "from": month})))
        teams = [g["team"] for g in summary["groups"]]
        check(teams == ["secret-team"], f"another organisation's key sees only its own spend: {teams}")
        budgets = json.loads(text(await session.call_tool("budget_status", {})))["budgets"]
        check(budgets == [], "and none of the first organisation's budgets")

    async def with_a_bad_key(session):
        result = await session.call_tool("budget_status", {})
        check(is_error(result) and "not valid" in text(result),
              f"a revoked or wrong key is a tool error, not a crash: {text(result)[:80]}")

    await session_for(ADMIN, as_a)
    await session_for(other, as_b)

    async def over_http(session):
        tools = {tool.name for tool in (await session.list_tools()).tools}
        check(len(tools) == 7, "/mcp on meterr serve lists the same seven tools")
        top = json.loads(text(await session.call_tool("top_spenders", {"by": "team", "limit": 1, "from": month})))
        check([r["name"] for r in top["top"]] == ["search"], "/mcp answers with the key's organisation's numbers")

    await http_session_for(ADMIN, over_http)

    async def other_over_http(session):
        summary = json.loads(text(await session.call_tool("spend_summary", {"group_by": "team", "from": month})))
        check([g["team"] for g in summary["groups"]] == ["secret-team"], "/mcp with another key: its own spend only")

    await http_session_for(other, other_over_http)
    status = None
    try:
        urllib.request.urlopen(urllib.request.Request(URL + "/mcp", data=b"{}", method="POST",
                                                      headers={"content-type": "application/json"}))
    except urllib.error.HTTPError as error:
        status = error.code
    check(status == 401, f"/mcp without a meterr key is refused: {status}")
    await session_for("mk_thiskeydoesnotexistanywhere00", with_a_bad_key)


asyncio.run(main())
if failures:
    print(f"mcp-check: {len(failures)} failed", file=sys.stderr)
    sys.exit(1)
print("mcp-check: all passed")
