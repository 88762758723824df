"""Demo scripts: a prompt file's user messages as steps, and a typed list saved to the library and read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.demo_script import DemoScriptError, load_steps, save_script, script_choices, steps_from_text
from services.prompts import list_prompts, load_prompt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "prompts"


def test_typed_lines_become_steps_and_blank_lines_are_skipped() -> None:
    assert steps_from_text("  What is Azure?  \n\n\nWrite a haiku about it.\n ") == [
        "What is Azure?",
        "Write a haiku about it.",
    ]


def test_a_saved_script_is_a_library_prompt_whose_user_messages_are_the_steps(tmp_path: Path) -> None:
    saved, steps = save_script("Launch demo", "Say hello.\nName three colours.\n", folder=tmp_path)
    assert saved.path.name == "launch-demo.prompt.yml"
    assert steps == ["Say hello.", "Name three colours."]
    [row] = list_prompts(tmp_path)
    assert (row.name, row.error) == ("Launch demo", None)
    assert [m.role for m in load_prompt("launch-demo", tmp_path).messages] == ["user", "user"]
    assert load_steps("launch-demo", tmp_path) == steps
    assert [r.file_name for r in script_choices(tmp_path)] == ["launch-demo"]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("", "Hi", "Give the demo script a name"),
        ("Empty", " \n \n", "at least one prompt"),
        ("Braces", "Hello {{who}}", "reads as a variable"),
    ],
)
def test_a_script_that_cannot_be_saved_says_why(tmp_path: Path, name: str, text: str, words: str) -> None:
    with pytest.raises(DemoScriptError, match=words):
        save_script(name, text, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_second_script_with_a_taken_name_is_refused(tmp_path: Path) -> None:
    save_script("Launch demo", "One", folder=tmp_path)
    with pytest.raises(DemoScriptError, match="already named"):
        save_script("Launch demo", "Two", folder=tmp_path)
    assert load_steps("launch-demo", tmp_path) == ["One"]


def test_a_library_prompt_with_variables_is_rendered_with_its_sample_values(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "sample.prompt.yml", tmp_path)
    # The system message is not a step; the user message's {{input}} takes the first test data row.
    assert load_steps("sample", tmp_path) == ["Please respond to this message appropriately: hello world"]


def test_a_prompt_without_a_user_message_is_no_script(tmp_path: Path) -> None:
    (tmp_path / "sys.prompt.yml").write_text("name: Only system\nmessages:\n  - role: system\n    content: Be brief.\n")
    with pytest.raises(DemoScriptError, match="no user message"):
        load_steps("sys", tmp_path)
