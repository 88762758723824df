"""The evaluation's evaluators: a list the user builds (kind, name, the kind's settings, Add; Edit and Remove on
each), and
the chosen `.prompt.yml` file's own evaluators loaded into it. A broken one (a bad regex, an invalid JSON schema,
two with one name) is named next to the list before anything is sent."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from app.components import eval_form
from app.components.embedding_picker import embedding_deployment_names
from app.components.eval_deployments import chat_deployment_names, run_deployments
from app.components.eval_form import Problem
from services.eval_build import KINDS, REQUIRED, SETTINGS, build_evaluator, build_evaluators
from services.eval_dataset import Dataset
from services.eval_model import EvalError, EvaluatorSpec
from services.eval_prompt_file import from_prompt_file
from services.prompts import Prompt
from services.safe_markdown import code_span, escape_markdown

SPECS = "evals.evaluators"
_ADD_ERROR = "evals.add_error"
_LOAD_ERROR = "evals.load_error"
KIND_KEY = "evf_new_kind"
NAME_KEY = "evf_new_name"
JUDGE_KEY = "evf_prompt_file_judge"
EDITING_KEY = "evals.editing"  # the index of the evaluator the form is editing, or None when it adds one
LONG_TEXT = ("schema", "rubric", "system", "choices")


def specs() -> list[EvaluatorSpec]:
    """The evaluators built so far, in order."""
    return st.session_state.setdefault(SPECS, [])


def _setting_key(kind: str, setting: str) -> str:
    return f"evf_new_{kind}_{setting}"


def _deployment_options(kind: str) -> list[str]:
    deployments = run_deployments()
    return embedding_deployment_names(deployments) if kind == "similarity" else chat_deployment_names(deployments)


def _setting_field(kind: str, setting: str, types: tuple[type, ...], default: Any) -> None:
    key = _setting_key(kind, setting)
    label = setting.replace("_", " ").capitalize()
    if setting == "deployment":
        options = _deployment_options(kind)
        eval_form.keep_choices(key, options)
        st.selectbox(label, options, key=key, index=None, placeholder="Choose a deployment")
    elif types == (bool,):
        eval_form.seed(key, bool(default))
        st.checkbox(label, key=key)
    elif str in types or list in types or dict in types:
        eval_form.seed(key, default if isinstance(default, str) else "")
        if setting in LONG_TEXT:
            st.text_area(label, key=key, height=90, help="JSON" if str not in types or setting == "schema" else None)
        else:
            st.text_input(label, key=key, help="Text; {{column}} stands for a column of the row.")
    else:
        whole = float not in types
        if default is not REQUIRED and default is not None:
            eval_form.seed(key, default)
        empty = {} if key in st.session_state else {"value": None}  # a bound left empty is no bound
        step = 1 if whole else (0.5 if setting == "pass_mark" else 0.05)
        st.number_input(label, key=key, step=step, min_value=0 if whole else None, **empty)


def _settings_from_fields(kind: str) -> dict[str, Any]:
    """The kind's settings from its fields: empty texts are left out (the kind's default, or "needs ..."), JSON
    fields parsed (EvalError naming the field when they do not parse)."""
    out: dict[str, Any] = {}
    for setting, (types, _) in SETTINGS[kind].items():
        found = st.session_state.get(_setting_key(kind, setting))
        if isinstance(found, str) and not found.strip() and setting not in ("text", "pattern"):
            continue
        if setting == "choices" and isinstance(found, str):
            try:
                found = json.loads(found)
            except json.JSONDecodeError as exc:
                raise EvalError(f"The choices are not JSON ({exc.msg}); write a list of {{choice, score}}.") from None
        if found is not None and int in types and float not in types and isinstance(found, float):
            found = int(found)
        if found is not None:
            out[setting] = found
    return out


def _editing() -> int | None:
    index = st.session_state.get(EDITING_KEY)
    return index if isinstance(index, int) and 0 <= index < len(specs()) else None


def _add() -> None:
    """Add the form's evaluator, or save it over the one being edited (refused, with the reason, when it cannot
    work; the fields keep what was typed)."""
    kind = str(st.session_state.get(KIND_KEY))
    editing = _editing()
    taken = {spec.name for i, spec in enumerate(specs()) if i != editing}
    name = str(st.session_state.get(NAME_KEY) or "").strip() or kind
    try:
        if name in taken:
            raise EvalError(f"Two evaluators would be named {name!r}; give this one its own name.")
        spec = EvaluatorSpec(kind, name, _settings_from_fields(kind))
        build_evaluator(spec, run_deployments())  # refused now, with the reason, when it cannot work
    except EvalError as err:
        st.session_state[_ADD_ERROR] = str(err)
        return
    if editing is None:
        specs().append(spec)
    else:
        kept = {k: v for k, v in specs()[editing].settings.items() if k in ("note", "source")}
        specs()[editing] = EvaluatorSpec(kind, name, {**spec.settings, **kept})
    _clear_form()


def _clear_form() -> None:
    st.session_state[_ADD_ERROR] = None
    st.session_state[NAME_KEY] = ""
    st.session_state[EDITING_KEY] = None


def _field_value(setting: str, value: Any) -> Any:
    """A stored setting as its field holds it: JSON settings (a schema, choices) as indented JSON text."""
    if setting in ("schema", "choices") and not isinstance(value, str) and value is not None:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return value


def _edit(index: int) -> None:
    """Put an evaluator's kind, name and settings into the form, which then saves over it."""
    if not 0 <= index < len(specs()):
        return
    spec = specs()[index]
    st.session_state[KIND_KEY] = spec.kind
    st.session_state[NAME_KEY] = spec.name
    for setting in SETTINGS[spec.kind]:
        value = spec.settings.get(setting)
        if value is None:
            st.session_state.pop(_setting_key(spec.kind, setting), None)  # the field shows its default again
        else:
            st.session_state[_setting_key(spec.kind, setting)] = _field_value(setting, value)
    st.session_state[EDITING_KEY] = index
    st.session_state[_ADD_ERROR] = None


def _remove(index: int) -> None:
    current = specs()
    if 0 <= index < len(current):
        del current[index]
        editing = _editing()
        if editing == index:
            _clear_form()
        elif editing is not None and editing > index:
            st.session_state[EDITING_KEY] = editing - 1


def _load_from_file(entries: list[dict[str, Any]]) -> None:
    try:
        found = from_prompt_file(
            entries, judge_deployment=st.session_state.get(JUDGE_KEY), deployments=run_deployments()
        )
    except EvalError as err:
        st.session_state[_LOAD_ERROR] = str(err)
        return
    names = {spec.name for spec in found}
    st.session_state[SPECS] = [spec for spec in specs() if spec.name not in names] + found
    st.session_state[_LOAD_ERROR] = None


def _render_prompt_file_evaluators(prompt: Prompt | None) -> None:
    if prompt is None or not prompt.evaluators:
        return
    entries = prompt.evaluators
    needs_judge = any("llm" in entry or "uses" in entry for entry in entries)
    st.caption(f"The prompt file has {len(entries)} evaluators of its own.")
    row = st.container(horizontal=True, vertical_alignment="bottom")
    if needs_judge:
        options = chat_deployment_names(run_deployments())
        eval_form.keep_choices(JUDGE_KEY, options)
        row.selectbox("Judge deployment", options, key=JUDGE_KEY, index=None, placeholder="For its LLM evaluators")
    row.button(
        "Load the prompt file's evaluators",
        key="evals_load_prompt_evaluators",
        on_click=_load_from_file,
        args=(entries,),
    )
    eval_form.show([Problem(st.session_state[_LOAD_ERROR])] if st.session_state.get(_LOAD_ERROR) else [])


def _describe(spec: EvaluatorSpec) -> str:
    shown = {k: v for k, v in spec.settings.items() if k not in ("note", "source")}
    text = json.dumps(shown, ensure_ascii=False, default=str)
    return f"**{escape_markdown(spec.name)}** · {spec.kind} · {code_span(text[:160])}"


def _render_list() -> None:
    for index, spec in enumerate(specs()):
        row = st.container(horizontal=True, vertical_alignment="center", key=f"evals_evaluator_{index}")
        row.markdown(_describe(spec), width="stretch")
        row.button("Edit", key=f"evals_edit_{index}", on_click=_edit, args=(index,), icon=":material/edit:")
        row.button("Remove", key=f"evals_remove_{index}", on_click=_remove, args=(index,), icon=":material/close:")
        if spec.settings.get("note"):
            st.caption(escape_markdown(str(spec.settings["note"])))


def _render_add_form() -> None:
    editing = _editing()
    title = "Add an evaluator" if editing is None else f"Edit the evaluator {specs()[editing].name!r}"
    with st.expander(escape_markdown(title), expanded=not specs() or editing is not None):
        eval_form.seed(KIND_KEY, "contains")
        kind = st.selectbox("Kind", KINDS, key=KIND_KEY)
        st.text_input("Name", key=NAME_KEY, placeholder=kind, help="The column header of its results.")
        for setting, (types, default) in SETTINGS[kind].items():
            _setting_field(kind, setting, types, default)
        if editing is None:
            st.button("Add", key="evals_add_evaluator", on_click=_add, icon=":material/add:")
        else:
            buttons = st.container(horizontal=True)
            buttons.button("Save changes", key="evals_save_evaluator", on_click=_add, icon=":material/check:")
            buttons.button("Cancel", key="evals_cancel_edit", on_click=_clear_form)
        eval_form.show([Problem(st.session_state[_ADD_ERROR])] if st.session_state.get(_ADD_ERROR) else [])


def _dataset_problems(built: list[Any], dataset: Dataset | None) -> list[Problem]:
    if dataset is None:
        return []
    problems = []
    for evaluator in built:
        missing = [c for c in getattr(evaluator, "columns", []) if c not in dataset.columns]
        if missing:
            problems.append(
                Problem(f"Evaluator {evaluator.name!r} uses the column {missing[0]!r}, which the dataset lacks.")
            )
    return problems


def render_evaluator_list(prompt: Prompt | None, dataset: Dataset | None) -> list[EvaluatorSpec] | None:
    """Draw the evaluators and return their specs (None while one cannot work, with the reason next to the list)."""
    _render_prompt_file_evaluators(prompt)
    _render_list()
    _render_add_form()
    current = list(specs())
    try:
        built = build_evaluators(current, run_deployments())
    except EvalError as err:
        eval_form.show([Problem(str(err))])
        return None
    problems = _dataset_problems(built, dataset)
    eval_form.show(problems)
    return None if problems else current
