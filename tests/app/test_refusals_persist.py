"""What the playground learned about a deployment (a refused parameter) survives a reload, until it is forgotten."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from streamlit.testing.v1 import AppTest

from services.store.refusals import RefusalStore
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

NAME = "picky"
TOOLS_422 = {
    "status": 422,
    "code": "parameter_not_supported",
    "detail": [{"loc": ["body", "tools"], "input": [{"type": "function"}], "msg": "not supported", "type": "x"}],
    "message": "One of the parameters contain invalid values.",
}


# The sidebar asks every deployment for /info once when the app starts: each scenario answers that first.
INFO = Reply(json={"model_name": "fault-model", "model_type": "chat-completion", "model_provider_name": "test"})


def _models_script() -> None:
    from pages.models import render

    render()


def _models_page() -> AppTest:
    """The models page on the configuration the last chat session used (PLAYGROUND_CONFIG is still set)."""
    at = AppTest.from_function(_models_script, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _learn_that_tools_are_refused(make: Callable[..., AppTest], scenario: Scenario) -> str:
    """One chat session: tools on, a 422, "Retry without tools"; returns the config the next sessions use."""
    config = toml_deployment(NAME, scenario.endpoint, max_retries=0)
    at = make(config)
    at.checkbox(key="p_tools_on").check().run()
    at.chat_input[0].set_value("What time is it?").run()
    at.button(key="retry_without_1").click().run()
    assert not at.exception, at.exception
    chats = [r.json() for r in scenario.requests if r.method == "POST"]
    assert "tools" in chats[0] and "tools" not in chats[1]
    return config


def test_a_refusal_learned_in_one_session_is_known_to_the_next(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(INFO, Reply(status=422, json=TOOLS_422), Reply(sse=chat_chunks(["noon"])))
    config = _learn_that_tools_are_refused(app_with_config, scenario)
    [refusal] = RefusalStore().all()
    assert (refusal.deployment, refusal.param, refusal.endpoint) == (NAME, "tools", scenario.endpoint)
    assert "422" in refusal.reason

    reloaded = app_with_config(config)  # a new session on the same data directory, as after a reload
    switch = reloaded.checkbox(key="p_tools_on")
    assert switch.disabled and not switch.value
    assert "Not supported by this deployment" in all_text(reloaded)


def test_the_same_name_on_another_endpoint_learns_nothing_from_it(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(INFO, Reply(status=422, json=TOOLS_422), Reply(sse=chat_chunks(["noon"])))
    _learn_that_tools_are_refused(app_with_config, scenario)
    elsewhere = fault_server.scenario(INFO, Reply(sse=chat_chunks(["fine"])))
    at = app_with_config(toml_deployment(NAME, elsewhere.endpoint))
    assert not at.checkbox(key="p_tools_on").disabled


def _chat_options(models: AppTest) -> pd.DataFrame:
    """The capability map's table that has the `tools` column (the map is drawn as more than one table)."""
    tables = [frame.value for frame in models.dataframe if "tools" in frame.value.columns]
    assert len(tables) == 1, [list(frame.value.columns) for frame in models.dataframe]
    return tables[0].set_index("deployment")


def test_the_models_page_lists_a_learned_refusal_and_forget_removes_it(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(INFO, Reply(status=422, json=TOOLS_422), Reply(sse=chat_chunks(["noon"])))
    config = _learn_that_tools_are_refused(app_with_config, scenario)
    RefusalStore().record(NAME, scenario.endpoint, "seed", "probe: seed refused")
    models = _models_page()
    assert _chat_options(models).loc[NAME, "tools"] == "not supported"
    listed = all_text(models)
    assert "`tools`: rejected with 422" in listed and "`seed`: probe: seed refused" in listed

    models.button(key=f"models_forget_{NAME}_seed").click().run()
    assert set(RefusalStore().refusals(NAME, scenario.endpoint)) == {"tools"}
    assert "`seed`" not in all_text(models)

    models.button(key=f"models_forget_{NAME}").click().run()
    assert not models.exception, models.exception
    assert RefusalStore().all() == []
    assert "Nothing learned yet." in all_text(models)
    assert _chat_options(models).loc[NAME, "tools"] == "unknown"

    again = app_with_config(config)
    assert not again.checkbox(key="p_tools_on").disabled
