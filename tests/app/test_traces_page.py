"""The Traces page in AppTest: calls really made (the embedded endpoint, the fault server) or rows written to the
store, listed, filtered, sorted, paged, opened, handed to the chat and compare pages, and exported."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from streamlit.testing.v1 import AppTest

from app.components.trace_export import jsonl, otlp
from services import tracing
from services.client import InferenceClient
from services.config import LOCAL_API_VERSION, Deployment
from services.store.location import data_dir
from services.store.traces import SPAN_COLUMNS, TraceFilter, TraceStore
from tests.app.conftest import all_text, cap_tokens, send
from tests.fixtures.app_server import local_deployments_toml, toml_deployment
from tests.fixtures.fault_server import CONTENT_FILTER_BODY, FaultServer, Reply, chat_chunks

CHAT = "smollm2-135m-instruct"


def open_traces(at: AppTest, trace_id: str | None = None) -> AppTest:
    """Run the app on its Traces page (optionally opened on one trace, as a `/traces?trace=<id>` link does)."""
    # AppTest.switch_page only finds pages that are files; the app's pages are functions registered by url path.
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "traces"]
    at._page_hash = page_hash
    if trace_id is not None:
        at.query_params["trace"] = trace_id
    at.run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest) -> pd.DataFrame:
    """The traces table (the first dataframe on the page)."""
    return at.dataframe[0].value


def store() -> TraceStore:
    assert tracing.flush(10), "the trace writer did not catch up"  # it gathers spans for a moment before writing
    return TraceStore(data_dir() / tracing.TRACE_FILE)


def last_trace_id(at: AppTest) -> str:
    """The trace of the chat page's newest answer (its metrics carry it)."""
    trace_id = at.session_state["chat_entries"][-1].metrics.trace_id
    assert trace_id and len(trace_id) == 32
    return trace_id


def newest_chat_turn() -> str:
    """The newest chat turn's trace id, read from the store (a failed answer's metrics carry no trace)."""
    tracing.flush()
    [found] = store().traces(TraceFilter(operations=("chat",)), limit=1)
    return found["trace_id"]


def json_values(at: AppTest) -> list[Any]:
    return [json.loads(element.value) for element in at.json]


def figures(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures on the page, as their JSON specs."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


# --- rows written straight to the store, for the list itself ---------------------------------------------------------


def _row(index: int, start_ns: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(SPAN_COLUMNS)
    row.update(
        span_id=f"{index + 1:016x}",
        trace_id=f"{index + 1:032x}",
        start_ns=start_ns,
        end_ns=start_ns + (index + 1) * 1_000_000,
        page="chat",
        action="chat turn",
        operation="chat",
        deployment="alpha",
        status="ok",
        attempt=1,
        input_tokens=index,
        output_tokens=0,
        search="",
    )
    row.update(fields)
    return row


def _write_sixty_two(now_ns: int) -> None:
    """60 recent traces (three deployments, every 10th an embedding, every 7th failed) and 2 from three days ago."""
    rows = [
        _row(
            i,
            now_ns - (60 - i) * 1_000_000_000,
            deployment=("alpha", "beta", "gamma")[i % 3],
            operation="embeddings" if i % 10 == 0 else "chat",
            status="error" if i % 7 == 0 else "ok",
            search=f"question number {i}",
        )
        for i in range(60)
    ]
    rows += [_row(60 + i, now_ns - 3 * 86_400 * 1_000_000_000 + i, search="ancient history") for i in range(2)]
    store().write(rows)


def test_an_empty_store_says_how_to_get_traces(app_with_config: Callable[..., AppTest]) -> None:
    at = open_traces(app_with_config(""))
    assert "No calls recorded yet. Send a message on the Chat page" in at.info[0].value
    assert not at.dataframe


def test_a_store_that_cannot_be_opened_is_reported_in_words(
    app_with_config: Callable[..., AppTest], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    at = open_traces(app_with_config("", PLAYGROUND_DATA_DIR=str(blocker / "data")))
    [error] = at.error
    assert "The trace store cannot be read" in error.value and "cannot be opened" in error.value
    assert "Traceback" not in all_text(at)


def test_filters_sorting_and_paging(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config("")
    _write_sixty_two(time.time_ns())
    open_traces(at)
    rows = table(at)
    assert len(rows) == 25 and "Traces 1–25 of 62 · page 1 of 3" in all_text(at)
    assert rows["Tokens"].tolist()[:3] == [59, 58, 57]  # newest first
    at.number_input(key="traces_page").set_value(3).run()
    assert table(at)["Tokens"].tolist() == [*range(9, -1, -1), 61, 60]  # the two old ones last
    at.selectbox(key="traces_sort").select("tokens").run()
    at.selectbox(key="traces_desc").select(False).run()
    assert at.number_input(key="traces_page").value == 1  # a new order starts at the first page
    assert table(at)["Tokens"].tolist()[:3] == [0, 1, 2]

    at.multiselect(key="traces_deployments").select("beta").run()
    beta = table(at)
    assert set(beta["Deployments"]) == {"beta"} and "of 20 ·" in all_text(at)
    at.multiselect(key="traces_deployments").unselect("beta").run()
    at.toggle(key="traces_errors").set_value(True).run()
    errors = table(at)
    assert sorted(errors["Tokens"]) == [0, 7, 14, 21, 28, 35, 42, 49, 56] and set(errors["Status"]) == {"error"}
    at.toggle(key="traces_errors").set_value(False).run()
    at.multiselect(key="traces_operations").select("embeddings").run()
    assert sorted(table(at)["Tokens"]) == [0, 10, 20, 30, 40, 50]
    at.multiselect(key="traces_operations").unselect("embeddings").run()
    at.text_input(key="traces_text").input("Number 42").run()
    assert table(at)["Tokens"].tolist() == [42]
    at.text_input(key="traces_text").input("").run()
    at.selectbox(key="traces_window").select("Last hour").run()
    assert "Traces 1–25 of 60 ·" in all_text(at)
    at.selectbox(key="traces_window").select("Between dates").run()
    assert "Traces 1–25 of 62 ·" in all_text(at)  # the last seven days by default
    three_days_ago = datetime.date.fromtimestamp(time.time() - 3 * 86_400)
    at.date_input(key="traces_dates").set_value((three_days_ago, three_days_ago)).run()
    assert table(at)["Tokens"].tolist() == [60, 61]  # still by tokens, lowest first
    at.text_input(key="traces_text").input("nothing like this").run()
    assert "No trace matches this filter." in all_text(at)


def test_totals_per_deployment_follow_the_filter(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config("")
    _write_sixty_two(time.time_ns())
    open_traces(at)
    totals = at.dataframe[1].value.set_index("Deployment")
    assert totals.loc["alpha", "Calls"] == 22 and totals.loc["beta", "Calls"] == 20
    assert totals.loc["alpha", "Errors"] == 3  # 0, 21, 42 of the recent ones
    at.selectbox(key="traces_window").select("Last hour").run()
    assert at.dataframe[1].value.set_index("Deployment").loc["alpha", "Calls"] == 20


def test_paging_reads_one_page_of_a_hundred_thousand_spans(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config("")
    now = time.time_ns()
    # Two spans per trace, so 50,000 traces; a page of them must be all the page reads.
    store().write(
        [
            _row(i, now - (100_000 - i) * 1_000_000, trace_id=f"{i // 2 + 1:032x}", deployment=f"d{i % 5}")
            for i in range(100_000)
        ]
    )
    open_traces(at)
    at.selectbox(key="traces_page_size").select(50).run()
    started = time.perf_counter()
    at.number_input(key="traces_page").set_value(1000).run()
    elapsed = time.perf_counter() - started
    assert not at.exception
    assert "Traces 49,951–50,000 of 50,000 · page 1000 of 1000" in all_text(at)
    assert len(table(at)) == 50
    assert elapsed < 3.0, elapsed  # the store reads one page, the totals and a count, never every span


# --- calls really made ----------------------------------------------------------------------------------------------


def test_a_sent_chat_is_listed_and_opens_with_its_request_answer_and_timeline(local_app: AppTest) -> None:
    cap_tokens(local_app)
    send(local_app, "Name a colour.")
    trace_id = last_trace_id(local_app)
    answer = local_app.session_state["chat_entries"][-1].turn.content
    open_traces(local_app)
    rows = table(local_app)
    [chat] = rows[rows["Action"] == "chat turn"].to_dict("records")
    assert chat["Page"] == "chat" and chat["Deployments"] == CHAT and chat["Operation"] == "chat"
    assert chat["Status"] == "ok" and chat["Tokens"] > 4 and chat["Calls"] == 1

    open_traces(local_app, trace_id)
    text = all_text(local_app)
    assert f"Trace `{trace_id}` · chat turn on the chat page" in text
    request, received = json_values(local_app)[:2]
    assert request["params"]["max_tokens"] == 4 and "stream" not in request["params"]
    assert request["messages"][-1] == {"role": "user", "content": "Name a colour."}
    assert received["content"] == answer and received["finish_reason"] == "length"
    [figure] = [f for f in figures(local_app) if f["layout"]["xaxis"]["title"]["text"] == "ms since the trace started"]
    assert [bar["name"] for bar in figure["data"]] == ["ok"]
    assert figure["data"][0]["y"] == [f"1. {CHAT} · chat · attempt 1"]
    # Copy as code: the View code generator's snippets for the recorded request.
    snippets = [block.value for block in local_app.code]
    assert any("client.complete(" in code and "'content': 'Name a colour.'" in code for code in snippets)
    assert any(code.startswith("curl ") and '"max_tokens": 4' in code for code in snippets)


def test_a_rejected_parameter_shows_its_error_card(local_app: AppTest) -> None:
    cap_tokens(local_app)
    local_app.checkbox(key="p_tools_on").check().run()
    send(local_app, "What is the weather in Paris?")
    trace_id = newest_chat_turn()
    open_traces(local_app, trace_id)
    text = all_text(local_app)
    assert f"{CHAT} does not support `tools`" in text and "get_weather" in text
    rows = table(local_app)
    assert rows.loc[rows["Action"] == "chat turn", "Status"].tolist() == ["error"]


def test_a_content_filter_error_shows_its_categories(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(status=400, json=CONTENT_FILTER_BODY))
    at = app_with_config("")
    client = InferenceClient(Deployment(name="guarded", endpoint=scenario.endpoint, api="openai", max_retries=0))
    with tracing.action("chat turn") as action:
        try:
            client.chat([{"role": "user", "content": "something blocked"}])
        except Exception as err:  # the error is what the page must show again
            assert "content" in str(err).lower()
    open_traces(at, action.trace_id)
    text = all_text(at)
    assert "The prompt was blocked by the content filter" in text
    assert "| hate | **filtered** |" in text


def test_open_in_chat_restores_messages_system_prompt_parameters_and_deployment(local_app: AppTest) -> None:
    at = local_app
    at.text_area(key="chat_system_prompt").input("Answer in one word.").run()
    cap_tokens(at, 5)
    at.checkbox(key="p_temperature_on").check().run()
    at.slider(key="p_temperature").set_value(0.3).run()
    send(at, "Name a fruit.")
    trace_id = last_trace_id(at)
    answer = at.session_state["chat_entries"][-1].turn.content
    # Something else on the chat page: the trace must bring the recorded one back.
    at.button(key="chat_clear").click().run()
    at.text_area(key="chat_system_prompt").input("Be verbose.").run()
    at.checkbox(key="p_temperature_on").uncheck().run()
    at.sidebar.selectbox(key="deployment_selected").select("image-descriptor").run()

    open_traces(at, trace_id)
    at.button(key="traces_open_chat").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == f"Chat with {CHAT}"
    assert [m.markdown[0].value for m in at.chat_message] == ["Name a fruit.", answer]
    assert at.session_state["chat_system_prompt"] == "Answer in one word."
    assert at.session_state["p_temperature_on"] is True and at.session_state["p_temperature"] == 0.3
    assert at.session_state["p_max_tokens"] == 5
    assert f"Opened from trace `{trace_id}`" in all_text(at)


def test_open_in_compare_puts_each_deployment_in_a_pane_with_its_answer(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    fast = fault_server.scenario(Reply(sse=chat_chunks(["Fast", " answer"])))
    slow = fault_server.scenario(Reply(sse=chat_chunks(["Slow", " answer"])))
    at = app_with_config(
        toml_deployment("fast", fast.endpoint, api="openai", max_retries=0)
        + toml_deployment("slow", slow.endpoint, api="openai", max_retries=0)
    )
    [compare_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "compare"]
    at._page_hash = compare_hash
    at.query_params["panes"] = "fast,slow"
    at.run()
    at.text_area(key="compare.shared.system").input("Be brief.").run()
    at.chat_input(key="compare.input").set_value("Which is faster?").run()
    assert not at.exception, at.exception
    [run] = store().traces(TraceFilter(text="which is faster"))
    assert sorted(run["deployments"]) == ["fast", "slow"]
    at.session_state["compare.state"].clear_conversation()  # the page forgets the run; the trace brings it back

    open_traces(at, run["trace_id"])
    at.button(key="traces_open_compare").click().run()
    assert not at.exception, at.exception
    state = at.session_state["compare.state"]
    assert sorted(p.deployment for p in state.panes) == ["fast", "slow"]
    [turn] = state.turns
    assert turn.prompt == "Which is faster?"
    answers = {reply.deployment: reply.text for reply in turn.replies.values()}
    assert answers == {"fast": "Fast answer", "slow": "Slow answer"}
    assert at.session_state["compare.shared.system"] == "Be brief."
    assert "Fast answer" in all_text(at) and "Slow answer" in all_text(at)  # the compare page drew them


def test_exports_hold_the_filtered_spans(local_app: AppTest) -> None:
    cap_tokens(local_app)
    send(local_app, "Count to three.")
    trace_id = last_trace_id(local_app)
    open_traces(local_app)
    labels = [button.proto.label for button in local_app.get("download_button")]
    assert labels == ["Export JSONL", "Export OTLP JSON"]
    rows = store().spans_of(TraceFilter(operations=("chat",)))
    lines = [json.loads(line) for line in jsonl(rows).splitlines()]
    assert [line["trace_id"] for line in lines] == [trace_id]
    assert lines[0]["request"]["messages"][-1]["content"] == "Count to three." and "search" not in lines[0]
    document = json.loads(otlp(rows))
    [span] = [s for r in document["resourceSpans"] for scope in r["scopeSpans"] for s in scope["spans"]]
    assert span["traceId"] == trace_id and span["spanId"] == lines[0]["span_id"]
    names = {attribute["key"] for attribute in span["attributes"]}
    assert {"gen_ai.operation.name", "gen_ai.response.model", "gen_ai.usage.input_tokens"} <= names, names


def test_a_retried_reply_says_so_in_its_metrics_line_and_links_its_trace(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    busy = {"error": {"code": "429", "message": "Rate limit reached, retry after 0 seconds"}}
    scenario = fault_server.scenario(
        Reply(status=429, json=busy, headers={"retry-after": "0"}), Reply(sse=chat_chunks(["Hello", " again"]))
    )
    at = app_with_config(toml_deployment("flaky", scenario.endpoint, api="openai", max_retries=2))
    send(at, "hi")
    trace_id = last_trace_id(at)
    strip = at.chat_message[1].caption[-1].value
    assert f"[after 1 retry, 0.0 s waiting on 429](/traces?trace={trace_id})" in strip
    open_traces(at, trace_id)
    text = all_text(at)
    assert "1. flaky · chat · attempt 1 · retried" in [e.label for e in at.expander]
    assert "Sent again after 0.0 s" in text and "429" in text
    rows = table(at)
    assert rows.loc[rows["Action"] == "chat turn", "Status"].tolist() == ["ok · 1 retry"]


def test_text_from_the_store_is_shown_inert(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config("")
    name = "[click me](http://example.invalid)"
    detail = {"type": "InvalidRequestError", "message": "x", "status": 400, "text": "see <img src=x> here"}
    store().write([_row(0, time.time_ns(), deployment=name, status="error", error_detail=json.dumps(detail))])
    open_traces(at, f"{1:032x}")
    [label] = [expander.label for expander in at.expander if "attempt 1" in expander.label]
    assert label == r"1. \[click me\](http://example.invalid) · chat · attempt 1 · error"
    assert r"HTTP 400: see \<img src=x\> here" in all_text(at)


def test_without_recorded_content_a_trace_cannot_be_opened_in_chat(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url), PLAYGROUND_TRACE_CONTENT="false")
    cap_tokens(at)
    send(at, "Keep this to yourself.")
    open_traces(at, last_trace_id(at))
    assert "The messages of this trace were not recorded (PLAYGROUND_TRACE_CONTENT=false)" in all_text(at)
    assert not [button for button in at.button if button.key == "traces_open_chat"]
    assert "Keep this to yourself." not in json.dumps(json_values(at))


def test_a_text_completion_opens_in_chat_as_its_prompt_and_answer(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    prompt = "The capital of France is"
    client = InferenceClient(
        Deployment(name=CHAT, endpoint=f"{local_endpoint_url}/{CHAT}", api_version=LOCAL_API_VERSION)
    )
    with (
        tracing.action("prompt run") as action,
        client.stream_complete_text(prompt, max_tokens=6, temperature=0.2, echo=True) as stream,
    ):
        list(stream)
    client.close()
    echoed = stream.result.text
    assert echoed.startswith(prompt) and len(echoed) > len(prompt)
    tracing.flush()

    # The Operation filter offers text completions, and finds this one.
    open_traces(at)
    assert "text_completion" in at.multiselect(key="traces_operations").options
    at.multiselect(key="traces_operations").set_value(["text_completion"]).run()
    rows = table(at)
    assert rows["Action"].tolist() == ["prompt run"] and rows["Operation"].tolist() == ["text_completion"]

    open_traces(at, action.trace_id)
    assert "This call was a text completion (`/completions`)" in all_text(at)
    at.button(key="traces_open_chat").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == f"Chat with {CHAT}"
    # The prompt as the user's message, the continuation (without the echoed prompt) as the assistant's.
    entries = at.session_state["chat_entries"]
    assert [(e.turn.role, e.turn.content) for e in entries] == [("user", prompt), ("assistant", echoed[len(prompt) :])]
    assert [m.markdown[0].value for m in at.chat_message] == [prompt, echoed[len(prompt) :].strip()]
    assert at.session_state["p_max_tokens"] == 6 and at.session_state["p_temperature"] == 0.2
    # `echo` belongs to /completions: it is not carried to chat as an extra parameter.
    assert at.session_state["p_model_extras_on"] is False
    assert f"Opened from trace `{action.trace_id}`" in all_text(at)
