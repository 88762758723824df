"""The Evaluations page in AppTest: a run defined, checked before anything is sent (missing dataset column, bad
regex, bad overrides JSON), and a small run on the embedded endpoint that runs to the end and is stored."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from app.components import eval_jobs
from services.config import LOCAL_API_VERSION
from services.identity import ANONYMOUS
from services.store.evals import EvalStore
from services.store.location import data_dir
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.counting_server import CountingServer

CHAT = "smollm2-135m-instruct"
CSV = b"question,expected\nCapital of France?,Paris\nCapital of Italy?,Rome\n"


def open_evals(at: AppTest) -> AppTest:
    """Run the app on its Evaluations page (registered by url path, as the app's pages are functions)."""
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "evals"]
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
