"""The Evaluations page in AppTest: a run defined, checked before anything is sent (missing dataset column, bad
regex, bad overrides JSON), and a small run on the embedded endpoint that runs to the end and is stored."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.components import eval_jobs
from app.components.eval_prompt_pick import typed_prompt
from services.config import LOCAL_API_VERSION, Deployment
from services.eval_model import CellResult, EvaluatorSpec
from services.eval_run import EvalRunner
from services.identity import ANONYMOUS
from services.store.evals import EvalStore
from services.store.location import data_dir
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.counting_server import CountingServer
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

CHAT = "smollm2-135m-instruct"
PROMPTS = Path(__file__).resolve().parents[1] / "fixtures" / "prompts"
CSV = b"question,expected\nCapital of France?,Paris\nCapital of Italy?,Rome\n"


def open_evals(at: AppTest, url_path: str = "evals") -> AppTest:
    """Run the app on its Evaluations page (registered by url path, as the app's pages are functions)."""
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    return at


def two_deployments(endpoint_url: str) -> str:
    """Two deployment names on the embedded endpoint's one chat model."""
    target = f"{endpoint_url}/{CHAT}"
    return toml_deployment("small-a", target, api_version=LOCAL_API_VERSION) + toml_deployment(
        "small-b", target, api_version=LOCAL_API_VERSION
    )


def define(at: AppTest, template: str = "Answer in one word: {{question}}", data: bytes = CSV) -> AppTest:
    """Type a template and upload a dataset (each step runs the app)."""
    at.radio(key="evf_prompt_source").set_value("Type a template").run()
    at.text_area(key="evf_template_user").set_value(template).run()
    at.get("file_uploader")[0].set_value(("questions.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def add_evaluator(at: AppTest, kind: str, name: str, **settings: str) -> AppTest:
    at.selectbox(key="evf_new_kind").set_value(kind).run()
    at.text_input(key="evf_new_name").set_value(name)
    for setting, value in settings.items():
        at.text_input(key=f"evf_new_{kind}_{setting}").set_value(value)
    at.button(key="evals_add_evaluator").click().run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> str:
    """Every error the page shows, as read (the page escapes markdown in them: user-typed names are plain text)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(element.value) for element in at.error))


def store() -> EvalStore:
    return EvalStore(data_dir() / "evals.sqlite")


def test_the_page_renders_with_no_runs(app_with_config: Callable[..., AppTest], local_endpoint_url: str) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    assert "Evaluations" in all_text(at)
    assert "No evaluation runs yet." in all_text(at)
    assert not at.error  # nothing is wrong before Run is pressed
    assert at.multiselect(key="evf_deployments").options == ["small-a", "small-b"]


def test_a_dataset_missing_a_template_column_names_it_and_sends_nothing(
    app_with_config: Callable[..., AppTest], counting_server: CountingServer
) -> None:
    counting_server.reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    url = f"http://127.0.0.1:{counting_server.port}"
    at = open_evals(app_with_config(toml_deployment("counted", url, api_version=LOCAL_API_VERSION)))
    define(at, template="Say {{greeting}} to {{question}}")
    assert "'greeting'" in errors(at) and "no column" in errors(at)
    at.multiselect(key="evf_deployments").set_value(["counted"]).run()
    add_evaluator(at, "contains", "has text", text="a")
    before = counting_server.connections  # the sidebar's status check may have asked /info already
    at.button(key="evals_run").click().run()
    assert "Nothing was sent" in errors(at)
    assert "'greeting'" in errors(at)
    time.sleep(0.5)
    assert counting_server.connections == before
    assert store().runs_for(ANONYMOUS) == []
    # What was typed is still there.
    assert at.text_area(key="evf_template_user").value == "Say {{greeting}} to {{question}}"


def test_a_bad_regex_evaluator_is_named(app_with_config: Callable[..., AppTest], local_endpoint_url: str) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    add_evaluator(at, "regex", "capital word", pattern="([A-Z")
    text = errors(at)
    assert "'capital word'" in text and "not a valid regular expression" in text
    assert at.session_state["evals.evaluators"] == []
    assert at.text_input(key="evf_new_regex_pattern").value == "([A-Z"  # kept to fix


def test_an_evaluator_is_edited_in_place_and_a_bad_edit_keeps_the_old_one(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    add_evaluator(at, "regex", "year", pattern=r"\d{4}")
    add_evaluator(at, "contains", "has Paris", text="Paris")
    at.button(key="evals_edit_0").click().run()
    assert at.selectbox(key="evf_new_kind").value == "regex" and at.text_input(key="evf_new_name").value == "year"
    assert at.text_input(key="evf_new_regex_pattern").value == r"\d{4}"
    assert any("Edit the evaluator" in expander.label for expander in at.expander)
    # A pattern that cannot work is refused: the list keeps the old evaluator, the field keeps what was typed.
    at.text_input(key="evf_new_regex_pattern").set_value("([0-9")
    at.button(key="evals_save_evaluator").click().run()
    assert "not a valid regular expression" in errors(at)
    assert [s.settings["pattern"] for s in at.session_state["evals.evaluators"] if s.kind == "regex"] == [r"\d{4}"]
    # Taking the other evaluator's name is refused too.
    at.text_input(key="evf_new_regex_pattern").set_value(r"\b\d{4}\b")
    at.text_input(key="evf_new_name").set_value("has Paris")
    at.button(key="evals_save_evaluator").click().run()
    assert "'has Paris'" in errors(at)
    at.text_input(key="evf_new_name").set_value("whole year")
    at.button(key="evals_save_evaluator").click().run()
    assert not at.exception and not errors(at)
    specs = at.session_state["evals.evaluators"]
    assert [(s.kind, s.name, s.settings.get("pattern")) for s in specs] == [
        ("regex", "whole year", r"\b\d{4}\b"),
        ("contains", "has Paris", None),
    ]  # edited where it was, not appended
    assert at.button(key="evals_add_evaluator")  # the form adds again
    # Cancel leaves the evaluator as it was.
    at.button(key="evals_edit_1").click().run()
    at.text_input(key="evf_new_contains_text").set_value("Rome")
    at.button(key="evals_cancel_edit").click().run()
    assert at.session_state["evals.evaluators"][1].settings["text"] == "Paris"


def test_bad_overrides_json_is_named_with_its_deployment(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    define(at)
    at.multiselect(key="evf_deployments").set_value(["small-a", "small-b"]).run()
    at.text_input(key="evf_override_small-b").set_value('{"temperature": 0,}').run()
    text = errors(at)
    assert "overrides for small-b are not JSON" in text
    assert "small-a" not in text
    at.button(key="evals_run").click().run()
    assert "Nothing was sent" in errors(at)
    assert store().runs_for(ANONYMOUS) == []
    assert at.text_input(key="evf_override_small-b").value == '{"temperature": 0,}'


def test_a_small_run_runs_to_the_end_and_is_listed_as_finished(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    at.text_input(key="evf_run_name").set_value("capitals")
    define(at)
    at.multiselect(key="evf_deployments").set_value(["small-a", "small-b"]).run()
    for name in ("small-a", "small-b"):
        at.text_input(key=f"evf_override_{name}").set_value('{"max_tokens": 4, "temperature": 0}').run()
    add_evaluator(at, "contains", "says the answer", text="{{expected}}")
    assert not at.error, errors(at)
    at.button(key="evals_run").click().run()
    assert not at.exception, at.exception

    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    runner = eval_jobs.runner_for(run_id)
    assert runner is not None
    assert runner.wait(120), "the run did not finish"
    deadline = time.monotonic() + 10
    while store().load_run(run_id).status != "finished" and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.1)
    at.run()
    assert not at.exception, at.exception

    record = store().load_run(run_id)
    assert record is not None and record.status == "finished" and record.name == "capitals"
    assert record.overrides == {name: {"max_tokens": 4, "temperature": 0} for name in ("small-a", "small-b")}
    cells = store().cells(run_id)
    assert {(c.row_index, c.deployment) for c in cells} == {(r, d) for r in (0, 1) for d in ("small-a", "small-b")}
    assert all(c.ok and c.verdicts[0].evaluator == "says the answer" for c in cells)
    listed = [str(m.value) for m in at.markdown if "capitals" in str(m.value)]
    assert listed and all("finished" in line for line in listed)
    assert any("4/4 cells" in line for line in listed)
    # The opened run's results: a matrix with a line per dataset row and a column per deployment.
    [matrix] = [frame.value for frame in at.dataframe if {"small-a", "small-b"} <= set(frame.value.columns)]
    assert len(matrix) == 2 and all(matrix["small-a"]) and all(matrix["small-b"])


def test_an_unknown_run_in_the_url_reads_as_not_found(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(two_deployments(local_endpoint_url), query={"run": "x" * 22})
    open_evals(at)
    assert "No run with this id was found among your runs." in all_text(at)
    assert not at.dataframe


def test_an_interrupted_run_resumes_and_sends_only_the_cells_left(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(two_deployments(local_endpoint_url))
    rows = [
        {"question": "Capital of France?", "expected": "Paris"},
        {"question": "Capital of Italy?", "expected": "Rome"},
    ]
    saved = store()
    run_id = saved.create_run(
        name="half done",
        prompt=typed_prompt("Answer in one word: {{question}}"),
        dataset_name="questions.csv",
        dataset_digest="d",
        rows=rows,
        deployments=["small-a"],
        overrides={"small-a": {"max_tokens": 4}},
        evaluators=[EvaluatorSpec("contains", "says it", {"text": "{{expected}}"})],
    )
    saved.save_cell(run_id, CellResult(0, "small-a", answer="kept from before", verdicts=[]))
    saved.set_status(run_id, "interrupted")
    at.query_params["run"] = run_id
    open_evals(at)
    assert "1 of 2 cells are done" in all_text(at)
    at.button(key="evals_resume").click().run()
    assert not at.exception, at.exception
    runner = eval_jobs.runner_for(run_id)
    assert runner is not None and runner.wait(120)
    cells = store().cells(run_id)
    assert [c.answer for c in cells if c.row_index == 0] == ["kept from before"]  # not sent again
    [resumed] = [c for c in cells if c.row_index == 1]
    assert resumed.ok and [v.evaluator for v in resumed.verdicts] == ["says it"]
    assert store().load_run(run_id).status == "finished"  # type: ignore[union-attr]


def test_a_library_prompt_brings_its_test_data_and_its_evaluators(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "prompts"
    folder.mkdir(parents=True)
    shutil.copy(PROMPTS / "sample.prompt.yml", folder / "sample.prompt.yml")
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    at.selectbox(key="evf_prompt_file").set_value("sample").run()
    at.radio(key="evf_dataset_source").set_value("The prompt file's testData").run()
    assert "2 rows · columns: input, string, expected" in all_text(at).replace("\\", "")
    at.selectbox(key="evf_prompt_file_judge").set_value("small-b").run()
    at.button(key="evals_load_prompt_evaluators").click().run()
    assert not at.exception, at.exception
    loaded = at.session_state["evals.evaluators"]
    assert [(spec.kind, spec.name) for spec in loaded] == [
        ("contains", "string evaluator"),
        ("judge", "similarity check"),
    ]
    assert loaded[1].settings["deployment"] == "small-b"
    assert not at.error, errors(at)


def test_what_was_typed_survives_a_visit_to_another_page(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url)))
    define(at, template="Name the capital: {{question}}")
    at.multiselect(key="evf_deployments").set_value(["small-b"]).run()
    at.text_input(key="evf_override_small-b").set_value('{"temperature": 0}').run()
    open_evals(at, "models")
    assert "evf_template_user" not in [w.key for w in at.text_area]
    open_evals(at)
    assert at.text_area(key="evf_template_user").value == "Name the capital: {{question}}"
    assert at.multiselect(key="evf_deployments").value == ["small-b"]
    assert at.text_input(key="evf_override_small-b").value == '{"temperature": 0}'
    assert "2 rows · columns: question, expected" in all_text(at).replace("\\", "")


def test_a_deployment_added_in_the_sidebar_is_offered_and_its_calls_pass_the_endpoint_guard(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_evals(app_with_config(two_deployments(local_endpoint_url), PLAYGROUND_USER_ENDPOINTS="any"))
    at.sidebar.text_input(key="add_name").input("mine")
    at.sidebar.text_input(key="add_endpoint").input(f"{local_endpoint_url}/{CHAT}")
    [submit] = [button for button in at.sidebar.button if button.label == "Check and add"]
    submit.click().run()
    assert not at.exception and not at.sidebar.error, at.exception or at.sidebar.error
    assert at.multiselect(key="evf_deployments").options == ["small-a", "small-b", "mine"]
    define(at)
    at.multiselect(key="evf_deployments").set_value(["small-a", "mine"]).run()
    at.text_input(key="evf_override_small-a").set_value('{"max_tokens": 2}').run()
    at.text_input(key="evf_override_mine").set_value('{"max_tokens": 2}').run()
    # The policy tightens after the endpoint was added: the run's calls to it are judged again, and refused.
    monkeypatch.setenv("PLAYGROUND_USER_ENDPOINTS", "public-only")
    at.button(key="evals_run").click().run()
    assert not at.exception, at.exception
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    runner = eval_jobs.runner_for(run_id)
    assert runner is not None and runner.wait(120), "the run did not finish"
    cells = store().cells(run_id)
    mine = [c for c in cells if c.deployment == "mine"]
    assert len(mine) == 2 and all(
        c.error_type == "EndpointBlockedError" and "loopback" in (c.error or "") for c in mine
    )
    assert all(c.ok for c in cells if c.deployment == "small-a")  # configured deployments are trusted as they are


def _stored_run(name: str, deployments: list[str], status: str = "finished") -> str:
    saved = store()
    run_id = saved.create_run(
        name=name,
        prompt=typed_prompt("Say {{word}}"),
        dataset_name="words.csv",
        dataset_digest="d",
        rows=[{"word": f"w{index}"} for index in range(20)],
        deployments=deployments,
    )
    saved.save_cell(run_id, CellResult(0, deployments[0], answer="kept", verdicts=[]))
    saved.set_status(run_id, status)
    return run_id


def test_a_saved_run_is_deleted_after_confirmation_but_not_while_it_runs_here(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["ok"]), first_byte_delay=0.5))
    at = app_with_config(toml_deployment("slow", scenario.endpoint, api_version=LOCAL_API_VERSION))
    doomed = _stored_run("doomed run", ["slow"])
    busy = _stored_run("busy run", ["slow"], status="running")
    runner = EvalRunner(
        store(),
        busy,
        typed_prompt("Say {{word}}"),
        store().rows(busy),
        {"slow": Deployment(name="slow", endpoint=scenario.endpoint, api_version=LOCAL_API_VERSION)},
        concurrency_per_deployment=1,
    )
    eval_jobs.start(runner)
    try:
        open_evals(at)
        assert at.button(key=f"evals_delete_{busy}").disabled  # running here: Cancel it first
        assert not at.button(key=f"evals_delete_{doomed}").disabled
        at.button(key=f"evals_delete_{doomed}").click().run()
        assert "Delete **doomed run** with its 1 stored cells? This cannot be undone." in all_text(at)
        assert store().load_run(doomed) is not None  # nothing deleted before the confirmation
        at.button(key="evals_delete_keep").click().run()
        assert "This cannot be undone" not in all_text(at) and store().load_run(doomed) is not None
        at.button(key=f"evals_delete_{doomed}").click().run()
        at.button(key="evals_delete_confirm").click().run()
        assert not at.exception, at.exception
        assert store().load_run(doomed) is None and store().cells(doomed) == []
        assert "doomed run" not in all_text(at) and "busy run" in all_text(at)
        assert store().load_run(busy) is not None
    finally:
        runner.cancel(abandon=True)
        runner.wait(10)


def _progress_texts(at: AppTest) -> list[str]:
    """The text drawn on each progress bar (UnknownElement: read from its proto)."""
    return [element.proto.text for element in at.get("progress")]


def test_cancel_on_the_page_keeps_the_finished_cells_and_lists_the_run_as_cancelled(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["ok"]), first_byte_delay=1.5))
    at = open_evals(app_with_config(toml_deployment("slow", scenario.endpoint, api_version=LOCAL_API_VERSION)))
    at.text_input(key="evf_run_name").set_value("to cancel")
    rows = "".join(f"Question {index}?,A{index}\n" for index in range(20))
    define(at, data=f"question,expected\n{rows}".encode())
    at.multiselect(key="evf_deployments").set_value(["slow"]).run()
    at.button(key="evals_run").click().run()
    assert not at.exception, at.exception
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    runner = eval_jobs.runner_for(run_id)
    assert runner is not None
    deadline = time.monotonic() + 30
    while runner.progress().done < 1:
        assert time.monotonic() < deadline, "no cell finished"
        time.sleep(0.05)
    at.run()
    [text] = _progress_texts(at)
    assert re.fullmatch(r"\d+ of 20 cells · 0 errors · 0 failed checks · about \d+ s left", text), text
    at.button(key=f"evals_cancel_{run_id}").click().run()
    assert not at.exception, at.exception
    assert runner.wait(10), "the run did not stop after Cancel"
    at.run()
    record = store().load_run(run_id)
    assert record is not None and record.status == "cancelled"
    cells = store().cells(run_id)
    chats = [request for request in scenario.requests if request.method == "POST"]  # not the sidebar's /info
    assert 1 <= len(cells) < 20 and record.cells_done == len(cells) == len(chats)
    assert all(cell.ok for cell in cells)
    listed = [str(m.value) for m in at.markdown if "to cancel" in str(m.value)]
    assert listed and all("cancelled" in line and f"{len(cells)}/20 cells" in line for line in listed)
    assert f"{len(cells)} of 20 cells are done" in all_text(at)  # and it offers to resume the rest
