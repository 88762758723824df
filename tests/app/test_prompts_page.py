"""The Prompts page in AppTest: the library folder listed and searched, prompts opened with their variables and the
messages they render to, runs on the embedded endpoint (one trace each, 422 repair, Open in chat / compare), import,
save / duplicate / delete, a file changed on disk, and "Save as prompt" from the chat page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.components import prompt_completion
from app.state import unsupported_params
from services import tracing
from services.probe import CapabilityResult, ProbeReport, Status
from services.prompts import MAX_FILE_BYTES, content_token, load_prompt, prompts_dir
from services.safe_markdown import escape_markdown as shown
from services.store.location import data_dir
from services.store.traces import TraceFilter, TraceStore
from tests.app.conftest import all_text, cap_tokens, send
from tests.fixtures.app_server import local_deployments_toml, toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks, completion_chunks

CHAT = "smollm2-135m-instruct"
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "prompts"
CAPITAL = f"""---
name: Capital city
description: Ask for a country's capital
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: {CHAT}
  parameters:
    max_tokens: 5
sample:
  country: France
---
system:
Answer in one word.

user:
What is the capital of {{{{country}}}}?
"""
BROKEN = "---\nname: [unclosed\n---\nuser:\nhi\n"


def open_prompts(at: AppTest) -> AppTest:
    """Run the app on its Prompts page (AppTest.switch_page only finds pages that are files)."""
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "prompts"]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    return at


def library(*files: str, **written: str) -> Path:
    """The prompts folder with copies of the published examples `files` and files written as `written` (name: text)."""
    folder = prompts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(EXAMPLES / name, folder / name)
    for name, text in written.items():
        (folder / name.replace("__", ".")).write_text(text)
    return folder


def prompts_app(app_with_config: Callable[..., AppTest], local_endpoint_url: str) -> AppTest:
    return open_prompts(app_with_config(local_deployments_toml(local_endpoint_url)))


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def rendered(at: AppTest) -> list[str]:
    """The rendered messages' texts, in order (the code blocks of the preview)."""
    return [block.value for block in at.code if block.language in (None, "", "text", "plaintext")]


def message_ids(at: AppTest) -> list[int]:
    return list(at.session_state["prompts.message_ids"])


def row_texts(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.caption) + "\n".join(str(m.value) for m in at.markdown)


def test_library_lists_each_file_with_its_fields_and_a_broken_one_with_its_error(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library("basic.prompty", "sample.prompt.yml", broken__prompty=BROKEN)
    open_prompts(at)
    text = all_text(at)
    assert "3 prompt files in" in text
    assert "**Basic Prompt**" in text and "**Sample Evaluation**" in text
    assert "model `gpt-35-turbo`" in text and "model `openai/gpt-4o`" in text
    assert "`firstName`, `lastName`, `question`" in text and "`input`" in text
    # The broken file is listed with what is wrong and where, and cannot be opened.
    assert ":red[Cannot be read:] " + shown("broken.prompty: YAML error at line 3, column 1") in text
    opens = {b.key for b in at.button if b.key and b.key.startswith("prompts.open.")}
    assert opens == {"prompts.open.sample.prompt.yml", "prompts.open.basic.prompty"}

    at.text_input(key="prompts.in.search").input("gpt-4o").run()
    assert "1 prompt file in" in all_text(at) and "**Sample Evaluation**" in all_text(at)
    assert "**Basic Prompt**" not in all_text(at)
    at.text_input(key="prompts.in.search").input("lastName").run()
    assert "**Basic Prompt**" in all_text(at) and "**Sample Evaluation**" not in all_text(at)
    at.text_input(key="prompts.in.search").input("no such thing").run()
    assert "No prompt matches this search." in all_text(at)


def test_open_prefills_variables_from_the_sample_and_shows_the_rendered_messages(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library("basic.prompty", "sample.prompt.yml")
    open_prompts(at)
    click(at, "prompts.open.basic.prompty")
    assert at.text_area(key="prompts.in.var.firstName").value == "Jane"
    assert at.text_area(key="prompts.in.var.lastName").value == "Doe"
    assert at.text_area(key="prompts.in.var.question").value == "What is the meaning of life?"
    system, user = rendered(at)
    assert "You are helping Jane Doe to find answers" in system and "{{" not in system
    assert user == "What is the meaning of life?"
    assert "The file asks for `gpt-35-turbo`, which is not configured here." in all_text(at)
    # The sidebar's deployment is the one run when the file's is not configured.
    assert at.selectbox(key="prompts.in.deployment").value == CHAT

    at.text_area(key="prompts.in.var.firstName").input("Ann").run()
    assert "You are helping Ann Doe" in rendered(at)[0]

    # A .prompt.yml: the first testData row fills the variables, GitHub's placeholders render.
    click(at, "prompts.open.sample.prompt.yml")
    assert at.text_area(key="prompts.in.var.input").value == "hello world"
    assert rendered(at)[-1] == "Please respond to this message appropriately: hello world"


def test_run_streams_on_the_embedded_endpoint_as_one_trace_and_opens_in_chat(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(capital__prompty=CAPITAL)
    open_prompts(at)
    click(at, "prompts.open.capital.prompty")
    assert at.selectbox(key="prompts.in.deployment").value == CHAT
    assert f"The file asks for `{CHAT}`: this deployment." in all_text(at)
    at.text_area(key="prompts.in.var.country").input("Italy").run()
    assert rendered(at) == ["Answer in one word.", "What is the capital of Italy?"]

    click(at, "prompts.run_button")
    run = at.session_state["prompts.run"]
    assert run.entry is not None and run.entry.error is None and run.entry.turn.content.strip()
    assert run.params == {"max_tokens": 5}
    strip = [c.value for c in at.caption if "first token" in str(c.value)]
    assert strip and "tokens/s" in strip[0] and "finish: length" in strip[0]
    assert run.entry.turn.content.strip()[:10] in all_text(at)

    tracing.flush()
    [trace] = TraceStore(data_dir() / tracing.TRACE_FILE).traces(TraceFilter(operations=("chat",)))
    assert (trace["action"], trace["page"], trace["spans"]) == ("prompt run", "prompts", 1)
    assert trace["trace_id"] == run.entry.metrics.trace_id

    click(at, "prompts.open_chat")
    assert at.subheader[0].value == f"Chat with {CHAT}"
    user, answer = at.chat_message
    assert user.markdown[0].value == "What is the capital of Italy?"
    assert answer.markdown[0].value == run.entry.turn.content
    assert at.session_state["chat_system_prompt"] == "Answer in one word."
    assert at.session_state["p_max_tokens_on"] is True and at.session_state["p_max_tokens"] == 5
    assert "Opened from the prompt `Capital city`." in all_text(at)


def test_a_refused_parameter_is_repaired_with_one_click(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(capital__prompty=CAPITAL)
    open_prompts(at)
    click(at, "prompts.open.capital.prompty")
    tools = '{"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]}'
    at.text_area(key="prompts.in.param.extra").input(tools).run()
    click(at, "prompts.run_button")
    assert f"{CHAT} does not support `tools`" in all_text(at)
    retry = at.button(key="retry_without_prompt_run")
    assert retry.label == "Retry without tools"
    retry.click().run()
    assert not at.exception, at.exception
    run = at.session_state["prompts.run"]
    assert run.entry.error is None and run.entry.turn.content.strip()
    assert "tools" not in run.params
    text = all_text(at)
    assert "does not support `tools`" not in text
    assert "`tools` is left out: rejected with 422" in text
    # The prompt still asks for its tools: only this deployment leaves them out.
    assert "lookup" in at.text_area(key="prompts.in.param.extra").value


def test_a_template_error_is_told_with_its_line_and_nothing_can_be_sent(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(capital__prompty=CAPITAL)
    open_prompts(at)
    click(at, "prompts.open.capital.prompty")
    user_text = f"prompts.in.text.{message_ids(at)[1]}"
    at.text_area(key=user_text).input("Tell me about {{ country.name }}.\nAnd {% if country %} more").run()
    text = all_text(at)
    assert "Template error: " + shown("message 2 (user), line 2") in text and "endif" in text
    assert at.button(key="prompts.run_button").disabled
    assert at.session_state.get("prompts.run") is None

    # A variable used with a field it does not have: the line and what is missing.
    at.text_area(key=user_text).input("Hello.\nTell me about {{ country.name }}.").run()
    at.checkbox(key="prompts.in.json.country").check().run()
    at.text_area(key="prompts.in.var.country").input('{"code": "IT"}').run()
    text = all_text(at)
    assert "Template error: " + shown("message 2 (user), line 2") in text and shown("no attribute 'name'") in text
    assert at.button(key="prompts.run_button").disabled
    at.text_area(key="prompts.in.var.country").input('{"name": "Italy"}').run()
    assert rendered(at)[-1] == "Hello.\nTell me about Italy."
    assert not at.button(key="prompts.run_button").disabled
    # What was typed is still in the editor after the errors.
    assert at.text_area(key=user_text).value == "Hello.\nTell me about {{ country.name }}."


def test_import_adds_a_good_file_and_tells_why_a_bad_one_is_refused(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = prompts_app(app_with_config, local_endpoint_url)
    folder = prompts_dir()
    uploader = at.get("file_uploader")[0]
    uploader.set_value(("summarizer.prompt.yml", (EXAMPLES / "summarizer.prompt.yml").read_bytes(), "text/yaml")).run()
    assert not at.exception, at.exception
    assert (folder / "summarizer.prompt.yml").read_bytes() == (EXAMPLES / "summarizer.prompt.yml").read_bytes()
    text = all_text(at)
    assert shown("Imported summarizer.prompt.yml") + " as `summarizer.prompt.yml`." in text
    assert "1 prompt file in" in text and "**Text Summarizer**" in text

    bad = b"name: Bad\nmessages:\n  - role: user\n    content: [unclosed\n"
    at.get("file_uploader")[0].set_value(("bad.prompt.yml", bad, "text/yaml")).run()
    text = all_text(at)
    assert shown("bad.prompt.yml") + " was not imported" in text and shown("line 5, column 1") in text
    assert not (folder / "bad.prompt.yml").exists()

    big = b"name: Big\nmessages:\n  - role: user\n    content: '" + b"x" * MAX_FILE_BYTES + b"'\n"
    at.get("file_uploader")[0].set_value(("big.prompty", big, "text/yaml")).run()
    assert shown("is over the 1,000,000-byte limit") in all_text(at)
    assert not (folder / "big.prompty").exists()

    # The same name again is refused, and the file in the folder stays as it was.
    at.get("file_uploader")[0].set_value(("summarizer.prompt.yml", b"name: Other\nmessages: []\n", "x")).run()
    assert "already exists" in all_text(at)
    assert (folder / "summarizer.prompt.yml").read_bytes() == (EXAMPLES / "summarizer.prompt.yml").read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["summarizer.prompt.yml"]


def test_new_prompt_is_saved_duplicated_and_deleted_after_confirmation(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = prompts_app(app_with_config, local_endpoint_url)
    folder = prompts_dir()
    click(at, "prompts.new")
    at.text_input(key="prompts.in.name").input("Haiku writer").run()
    system_id, user_id = message_ids(at)
    at.text_area(key=f"prompts.in.text.{system_id}").input("Write a haiku.").run()
    at.text_area(key=f"prompts.in.text.{user_id}").input("A haiku about {{topic}} in {{season}}.").run()
    assert "Variables in this prompt: `topic`, `season`" in all_text(at)
    at.text_area(key="prompts.in.var.topic").input("rain").run()
    at.text_area(key="prompts.in.var.season").input("spring").run()
    at.number_input(key="prompts.in.param.max_tokens").set_value(32).run()
    at.text_input(key="prompts.in.file").input("haiku").run()
    click(at, "prompts.save")
    assert "Saved `haiku.prompty`." in all_text(at)
    saved = load_prompt("haiku")
    assert [(m.role, m.content) for m in saved.messages] == [
        ("system", "Write a haiku."),
        ("user", "A haiku about {{topic}} in {{season}}."),
    ]
    assert saved.parameters.max_tokens == 32 and saved.test_data == [{"topic": "rain", "season": "spring"}]
    assert saved.model.deployment == CHAT  # a prompt made here names the deployment picked to run it
    assert "**Haiku writer**" in all_text(at)  # listed in the library

    click(at, "prompts.duplicate")
    assert "Duplicated as `haiku-copy.prompty`." in all_text(at)
    copy = load_prompt("haiku-copy")
    assert copy.name == "Haiku writer (copy)" and copy.messages == saved.messages
    assert at.text_input(key="prompts.in.name").value == "Haiku writer (copy)"

    click(at, "prompts.delete")
    assert "Delete `haiku-copy.prompty` from the folder?" in all_text(at)
    click(at, "prompts.delete_cancel")
    assert (folder / "haiku-copy.prompty").exists()
    click(at, "prompts.delete")
    click(at, "prompts.delete_confirm")
    assert not (folder / "haiku-copy.prompty").exists() and (folder / "haiku.prompty").exists()
    assert "Deleted `haiku-copy.prompty`." in all_text(at)
    assert at.session_state["prompts.base"] is None


def test_a_file_changed_on_disk_is_not_overwritten_and_can_be_kept_beside_a_copy(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    folder = library(capital__prompty=CAPITAL)
    open_prompts(at)
    click(at, "prompts.open.capital.prompty")
    at.text_input(key="prompts.in.description").input("Mine: one word answers").run()
    assert "unsaved changes" in all_text(at)
    theirs = CAPITAL.replace("Ask for a country's capital", "Theirs - changed in git")
    (folder / "capital.prompty").write_text(theirs)

    click(at, "prompts.save")
    text = all_text(at)
    assert "Not saved: " + shown("capital.prompty was changed on disk since it was loaded") in text
    assert (folder / "capital.prompty").read_text() == theirs
    assert at.text_input(key="prompts.in.description").value == "Mine: one word answers"  # nothing typed is lost

    click(at, "prompts.conflict_copy")
    assert "Saved your changes as `capital-copy.prompty`." in all_text(at)
    assert load_prompt("capital-copy").description == "Mine: one word answers"
    assert load_prompt("capital-copy").name == "Capital city (copy)"
    assert (folder / "capital.prompty").read_text() == theirs

    # The other way out: reload what is on disk.
    click(at, "prompts.open.capital.prompty")
    at.text_input(key="prompts.in.description").input("Mine again").run()
    (folder / "capital.prompty").write_text(theirs.replace("Theirs", "Theirs again"))
    click(at, "prompts.save")
    click(at, "prompts.conflict_reload")
    assert at.text_input(key="prompts.in.description").value == "Theirs again - changed in git"
    assert at.session_state["prompts.base"].token == content_token((folder / "capital.prompty").read_bytes())
    click(at, "prompts.save")  # now it saves: the token is the file's
    assert "Saved `capital.prompty`." in all_text(at)


def test_open_in_compare_runs_the_prompt_on_each_deployment(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    fast = fault_server.scenario(Reply(sse=chat_chunks(["Rome"])))
    slow = fault_server.scenario(Reply(sse=chat_chunks(["It", " is", " Rome"])))
    at = app_with_config(
        toml_deployment("fast", fast.endpoint, api="openai", max_retries=0)
        + toml_deployment("slow", slow.endpoint, api="openai", max_retries=0)
    )
    library(capital__prompty=CAPITAL)
    open_prompts(at)
    click(at, "prompts.open.capital.prompty")
    at.text_area(key="prompts.in.var.country").input("Italy").run()
    at.multiselect(key="prompts.in.compare").set_value(["fast", "slow"]).run()
    click(at, "prompts.open_compare")
    state = at.session_state["compare.state"]
    assert [p.deployment for p in state.panes] == ["fast", "slow"]
    [turn] = state.turns
    assert turn.prompt == "What is the capital of Italy?"
    assert {r.deployment: r.text for r in turn.replies.values()} == {"fast": "Rome", "slow": "It is Rome"}
    assert at.session_state["compare.shared.system"] == "Answer in one word."
    assert at.session_state["compare.shared.max_tokens"] == 5
    for scenario in (fast, slow):
        [request] = scenario.requests
        assert request.json()["messages"] == [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What is the capital of Italy?"},
        ]
        assert request.json()["max_tokens"] == 5
    tracing.flush()
    [trace] = TraceStore(data_dir() / tracing.TRACE_FILE).traces(TraceFilter(operations=("chat",)))
    assert (trace["action"], trace["page"], sorted(trace["deployments"])) == (
        "compare run",
        "prompts",
        ["fast", "slow"],
    )


def test_save_as_prompt_from_chat_makes_the_last_message_a_variable_found_in_the_library(local_app: AppTest) -> None:
    at = local_app
    at.text_area(key="chat_system_prompt").input("Answer briefly.").run()
    cap_tokens(at, 4)
    send(at, "Name a colour.")
    send(at, "Name a fruit.")
    at.text_input(key="chat_prompt_name").input("Fruit namer").run()
    at.checkbox(key="chat_prompt_as_variable").check().run()
    assert at.text_input(key="chat_prompt_variable").value == "question"
    click(at, "chat_prompt_save")
    assert "Saved `fruit-namer.prompty` in the prompt library." in all_text(at)
    assert "The last answer is left out" in all_text(at)
    saved = load_prompt("fruit-namer")
    first_answer = at.session_state["chat_entries"][1].turn.content
    assert [(m.role, m.content) for m in saved.messages] == [
        ("system", "Answer briefly."),
        ("user", "Name a colour."),
        ("assistant", first_answer.strip()),
        ("user", "{{question}}"),
    ]
    assert saved.test_data == [{"question": "Name a fruit."}]
    assert saved.parameters.max_tokens == 4 and saved.model.deployment == CHAT

    click(at, "chat_prompt_open")
    assert at.title[0].value == "Prompts"
    assert "**Fruit namer**" in all_text(at)  # listed in the library
    assert at.text_area(key="prompts.in.var.question").value == "Name a fruit."
    assert rendered(at)[-1] == "Name a fruit."

    # Saving under a name the library has already is refused in words; nothing is overwritten.
    before = (prompts_dir() / "fruit-namer.prompty").read_bytes()
    [chat_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "chat"]
    at._page_hash = chat_hash
    at.run()
    click(at, "chat_prompt_save")
    assert "Not saved: " + shown("Another prompt (fruit-namer.prompty) is already named 'Fruit namer'.") in all_text(at)
    assert (prompts_dir() / "fruit-namer.prompty").read_bytes() == before


# --- text mode: the rendered prompt as one raw text on /completions ---------------------------------------------------

RAW = f"""---
name: Raw capital
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: {CHAT}
  parameters:
    max_tokens: 6
    temperature: 0
sample:
  country: France
---
user:
The capital of {{{{country}}}} is
"""
MODE = prompt_completion.MODE_KEY
TEXT_MODE = prompt_completion.TEXT_MODE


def text_mode(at: AppTest, prompt_file: str) -> AppTest:
    """The prompt opened and the run pane switched to text completion."""
    click(at, f"prompts.open.{prompt_file}")
    at.radio(key=MODE).set_value(TEXT_MODE).run()
    assert not at.exception, at.exception
    return at


def codes(at: AppTest) -> list[str]:
    return [block.value for block in at.code]


def text_spans() -> list[dict]:
    """The spans of the one text completion trace recorded."""
    tracing.flush()
    found = TraceStore(data_dir() / tracing.TRACE_FILE)
    [trace] = found.traces(TraceFilter(operations=("text_completion",)))
    assert (trace["action"], trace["page"]) == ("prompt run", "prompts")
    return found.spans(trace["trace_id"])


def test_prompt_text_is_the_one_user_message_or_a_plain_transcript() -> None:
    assert prompt_completion.prompt_text([{"role": "user", "content": "The sky is"}]) == "The sky is"
    messages = [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of Italy?"},
    ]
    assert (
        prompt_completion.prompt_text(messages)
        == "System: Answer in one word.\n\nUser: Capital of Italy?\n\nAssistant:"
    )
    prefill = [*messages, {"role": "assistant", "content": "The capital is"}]
    assert prompt_completion.prompt_text(prefill).endswith("User: Capital of Italy?\n\nAssistant: The capital is")


def test_text_mode_streams_the_raw_text_on_the_embedded_endpoint_as_one_text_completion_span(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(raw__prompty=RAW, capital__prompty=CAPITAL)
    open_prompts(at)
    # Several messages: the transcript is what would be sent, shown before sending.
    text_mode(at, "capital.prompty")
    assert "System: Answer in one word.\n\nUser: What is the capital of France?\n\nAssistant:" in codes(at)
    assert "Not probed yet" in all_text(at)
    # The parameters only /completions has appear in text mode, and go away in chat mode.
    assert {"prompts.text.echo"} <= {c.key for c in at.checkbox}
    at.radio(key=MODE).set_value(prompt_completion.CHAT_MODE).run()
    assert "prompts.text.echo" not in {c.key for c in at.checkbox}
    assert not [t for t in at.text_input if t.key == "prompts.text.suffix"]

    # One user message: its text as written.
    text_mode(at, "raw.prompty")
    assert "The capital of France is" in codes(at)
    assert "Parameters sent: `temperature`, `max_tokens`" in all_text(at)
    click(at, "prompts.run_button")
    run = at.session_state["prompts.run"]
    assert run.as_text and run.text == "The capital of France is"
    assert run.entry is not None and run.entry.error is None and run.entry.turn.content.strip()
    assert run.params == {"temperature": 0, "max_tokens": 6}
    assert "Answer from `smollm2-135m-instruct` (text completion, `/completions`)" in all_text(at)
    strip = [c.value for c in at.caption if "first token" in str(c.value)]
    assert strip and "tokens/s" in strip[0] and "finish:" in strip[0]
    assert run.entry.turn.content.strip()[:8] in all_text(at)

    [span] = text_spans()
    assert (span["operation"], span["status"], span["route"]) == ("text_completion", "ok", "/completions")
    request = json.loads(span["request"])
    assert request["prompt"] == "The capital of France is" and request["params"]["max_tokens"] == 6
    assert json.loads(span["answer"])["content"] == run.entry.turn.content
    assert span["trace_id"] == run.entry.metrics.trace_id


def test_a_prompt_without_max_tokens_still_sends_it_in_text_mode(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=completion_chunks([" Paris", "."])))
    at = app_with_config(toml_deployment("fault", scenario.endpoint, api="openai", max_retries=0))
    library(raw__prompty=RAW.replace("    max_tokens: 6\n", ""))
    open_prompts(at)
    text_mode(at, "raw.prompty")
    click(at, "prompts.run_button")
    [request] = scenario.requests
    assert request.path.endswith("/completions") and not request.path.endswith("/chat/completions")
    body = request.json()
    assert body["prompt"] == "The capital of France is"
    assert body["max_tokens"] == prompt_completion.DEFAULT_MAX_TOKENS and body["stream"] is True
    assert at.session_state["prompts.run"].entry.turn.content == " Paris."


def test_echo_shows_the_prompt_before_the_continuation(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(raw__prompty=RAW)
    open_prompts(at)
    text_mode(at, "raw.prompty")
    at.checkbox(key="prompts.text.echo").check().run()
    assert "Parameters sent: `temperature`, `max_tokens`, `echo`" in all_text(at)
    click(at, "prompts.run_button")
    run = at.session_state["prompts.run"]
    assert run.entry.error is None and run.params["echo"] is True
    assert run.echoed == "The capital of France is"
    assert "The prompt, echoed (`echo`):" in all_text(at)
    # The rendered message and the text to send, before sending; then the echo in the answer.
    assert codes(at).count("The capital of France is") == 3
    # The endpoint answered the prompt and its continuation; the answer kept is the continuation.
    [span] = text_spans()
    assert json.loads(span["answer"])["content"] == "The capital of France is" + run.entry.turn.content
    assert run.entry.turn.content.strip()


def test_a_refused_suffix_gives_the_card_and_retry_without_works(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(raw__prompty=RAW)
    open_prompts(at)
    text_mode(at, "raw.prompty")
    at.text_input(key="prompts.text.suffix").input(" and that is all.").run()
    click(at, "prompts.run_button")
    assert f"{CHAT} does not support `suffix`" in all_text(at)
    assert at.session_state["prompts.run"].entry.error is not None
    retry = at.button(key="retry_without_prompt_run")
    assert retry.label == "Retry without suffix"
    retry.click().run()
    assert not at.exception, at.exception
    run = at.session_state["prompts.run"]
    assert run.as_text and run.entry.error is None and run.entry.turn.content.strip()
    assert "suffix" not in run.params
    text = all_text(at)
    assert "does not support `suffix`" not in text
    assert "`suffix` is left out: " + shown("rejected with 422 on /completions") in text
    assert at.text_input(key="prompts.text.suffix").value == " and that is all."  # what was typed stays
    # Chat keeps its own refusals: nothing about /completions was marked on the deployment for chat.
    assert "suffix" not in unsupported_params(CHAT)


def test_a_chat_only_deployment_says_to_use_chat_mode(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(status=404, text="Not Found"), Reply(sse=chat_chunks(["Paris"])))
    at = app_with_config(toml_deployment("chat-only", scenario.endpoint, api="openai", max_retries=0))
    library(raw__prompty=RAW)
    open_prompts(at)
    text_mode(at, "raw.prompty")
    click(at, "prompts.run_button")
    text = all_text(at)
    assert f"**:red[{shown('chat-only')} does not serve /completions]**" in text
    assert "offers chat completions only. Use **Chat** mode to run this prompt." in text
    assert not [b for b in at.button if b.key == "retry_without_prompt_run"]
    click(at, "prompts.text.use_chat")
    assert at.radio(key=MODE).value == prompt_completion.CHAT_MODE
    run = at.session_state["prompts.run"]
    assert not run.as_text and run.entry.error is None and run.entry.turn.content == "Paris"
    first, second = scenario.requests
    assert first.path.endswith("/completions") and "/chat/" not in first.path
    assert second.path.endswith("/chat/completions")


def test_text_mode_is_not_offered_where_the_capability_map_found_no_completions(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url))
    library(raw__prompty=RAW)
    open_prompts(at)
    text_mode(at, "raw.prompty")
    result = CapabilityResult("text_completion", Status.NOT_SUPPORTED, "HTTP 404 on /completions")
    at.session_state["probe_reports"] = {CHAT: ProbeReport(CHAT, datetime.now(UTC), {"text_completion": result})}
    at.run()
    mode = at.radio(key=MODE)
    assert mode.value == prompt_completion.CHAT_MODE and mode.disabled
    assert "the capability map found that `smollm2-135m-instruct` does not serve `/completions`" in all_text(at)
    assert "prompts.text.echo" not in {c.key for c in at.checkbox}

    at.session_state["probe_reports"] = {
        CHAT: ProbeReport(
            CHAT,
            datetime.now(UTC),
            {"text_completion": CapabilityResult("text_completion", Status.SUPPORTED, "accepted")},
        )
    }
    at.run()
    at.radio(key=MODE).set_value(TEXT_MODE).run()
    assert not at.radio(key=MODE).disabled
    assert "The capability map found `/completions` served by `smollm2-135m-instruct`." in all_text(at)


def test_logprobs_are_shown_as_a_table_of_the_first_fifty_tokens(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    pieces = [f" w{i}" for i in range(60)]
    scenario = fault_server.scenario(Reply(sse=completion_chunks(pieces, finish="length", logprobs=True)))
    at = app_with_config(toml_deployment("vllm", scenario.endpoint, api="openai", max_retries=0))
    library(raw__prompty=RAW)
    open_prompts(at)
    text_mode(at, "raw.prompty")
    at.number_input(key="prompts.text.logprobs").set_value(1).run()
    click(at, "prompts.run_button")
    [request] = scenario.requests
    assert request.json()["logprobs"] == 1
    run = at.session_state["prompts.run"]
    assert run.entry.turn.content == "".join(pieces) and len(run.logprobs["tokens"]) == 60
    assert "Token log probabilities (first 50 of 60)" in all_text(at)
    [table] = [frame.value for frame in at.dataframe]
    assert list(table.columns) == ["token", "logprob", "likeliest"]
    assert len(table) == 50 and table["token"].tolist()[:2] == ["' w0'", "' w1'"]
    assert table["logprob"].tolist() == [-0.5] * 50
    assert table["likeliest"].tolist()[0] == "' w0' -0.50"
