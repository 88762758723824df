"""Demo scripts: a list of prompts a presenter sends one at a time, kept as a prompt-library file.

Any prompt file is a script: its user messages (rendered with the file's sample or default values) are the steps, in
order. A list typed in the page is saved as a `.prompt.yml` file with one user message per step, so it shows in the
Prompts page's library like any other prompt.
"""

from __future__ import annotations

from pathlib import Path

from services.prompts import (
    Prompt,
    PromptError,
    PromptMessage,
    PromptSummary,
    SavedPrompt,
    list_prompts,
    load_prompt,
    render_messages,
    save_prompt,
)

DEMO_TAG = "demo-script"
MAX_STEPS = 100


class DemoScriptError(ValueError):
    """A script that cannot be used or saved, in words for the page."""


def script_steps(prompt: Prompt) -> list[str]:
    """The prompt's user messages as steps, rendered with its sample (else default) values; empty ones skipped."""
    try:
        messages = render_messages(prompt, prompt.initial_values())
    except PromptError as err:
        raise DemoScriptError(f"{prompt.name or 'This prompt'} cannot be used as a demo script: {err}") from err
    steps = [m["content"].strip() for m in messages if m["role"] == "user" and m["content"].strip()]
    if not steps:
        raise DemoScriptError(f"{prompt.name or 'This prompt'} has no user message to send.")
    return steps[:MAX_STEPS]


def load_steps(file_name: str, folder: Path | None = None) -> list[str]:
    """The steps of the library's prompt `file_name` (DemoScriptError when it cannot be read or has none)."""
    try:
        prompt = load_prompt(file_name, folder)
    except PromptError as err:
        raise DemoScriptError(str(err)) from err
    return script_steps(prompt)


def steps_from_text(text: str) -> list[str]:
    """One step per non-empty line of typed text, surrounding spaces removed."""
    return [line.strip() for line in text.splitlines() if line.strip()][:MAX_STEPS]


def script_prompt(name: str, steps: list[str]) -> Prompt:
    """A prompt holding `steps` as user messages, tagged as a demo script (plain text: nothing is a template)."""
    return Prompt(
        name=name.strip(),
        description=f"Demo script: {len(steps)} prompt{'s' if len(steps) != 1 else ''}, sent one at a time.",
        tags=[DEMO_TAG],
        messages=[PromptMessage(role="user", content=step) for step in steps],
        syntax="placeholders",
    )


def save_script(name: str, text: str, folder: Path | None = None) -> tuple[SavedPrompt, list[str]]:
    """Save typed text (one prompt a line) as a new `.prompt.yml` in the library; returns what was saved and the
    steps. DemoScriptError for a missing name, no steps, a text with `{{` (it would read as a variable) or a
    name already taken."""
    steps = steps_from_text(text)
    if not name.strip():
        raise DemoScriptError("Give the demo script a name.")
    if not steps:
        raise DemoScriptError("Type at least one prompt, one a line.")
    if any("{{" in step for step in steps):
        raise DemoScriptError("A prompt contains `{{`, which the library reads as a variable: rephrase it.")
    try:
        saved = save_prompt(script_prompt(name, steps), fmt="prompt.yml", folder=folder)
    except PromptError as err:
        raise DemoScriptError(str(err)) from err
    return saved, steps


def script_choices(folder: Path | None = None) -> list[PromptSummary]:
    """The library's readable prompt files, each usable as a script (newest first, as the library lists them)."""
    return [row for row in list_prompts(folder) if row.error is None]
