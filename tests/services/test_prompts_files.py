"""The prompt library folder: list, load, save, duplicate, delete, import, and each bad input with a clear message."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from services.prompts import (
    MAX_FILE_BYTES,
    Prompt,
    PromptConflictError,
    PromptExistsError,
    PromptMessage,
    PromptNameError,
    PromptNotFoundError,
    PromptParseError,
    PromptTooLargeError,
    delete_prompt,
    duplicate_prompt,
    import_prompt,
    list_prompts,
    load_prompt,
    prompts_dir,
    save_prompt,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "prompts"


def _prompt(name: str = "Support answer", question: str = "{{ question }}") -> Prompt:
    return Prompt(
        name=name,
        description="Answers support questions",
        messages=[PromptMessage(role="system", content="Be brief."), PromptMessage(role="user", content=question)],
        test_data=[{"question": "Where is my order?"}],
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_prompts_dir_default_and_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prompts_dir() == Path(os.environ["PLAYGROUND_DATA_DIR"]) / "prompts"
    monkeypatch.setenv("PLAYGROUND_PROMPTS_DIR", str(tmp_path / "repo-prompts"))
    assert prompts_dir() == tmp_path / "repo-prompts"
    saved = save_prompt(_prompt())
    assert saved.path == tmp_path / "repo-prompts" / "support-answer.prompty"


def test_save_list_load_and_search(tmp_path: Path) -> None:
    save_prompt(_prompt(), folder=tmp_path)
    summarizer = (EXAMPLES / "summarizer.prompt.yml").read_bytes()
    import_prompt(summarizer, "summarizer.prompt.yml", tmp_path)
    rows = list_prompts(tmp_path)
    assert {r.file_name for r in rows} == {"support-answer", "summarizer"}
    row = next(r for r in rows if r.file_name == "summarizer")
    assert (row.name, row.format, row.model, row.variables) == (
        "Text Summarizer",
        "prompt.yml",
        "openai/gpt-4o-mini",
        ["input"],
    )
    assert row.description == "Summarizes input text concisely"
    assert row.modified > 0 and row.error is None
    assert [r.file_name for r in list_prompts(tmp_path, search="SUPPORT")] == ["support-answer"]
    assert [r.file_name for r in list_prompts(tmp_path, search="input")] == ["summarizer"]  # a variable name
    assert list_prompts(tmp_path, search="nothing like this") == []
    loaded = load_prompt("support-answer", tmp_path)
    assert loaded.name == "Support answer"
    assert loaded.test_data == [{"question": "Where is my order?"}]
    assert loaded.path == tmp_path / "support-answer.prompty"
    assert (tmp_path / "summarizer.prompt.yml").read_bytes() == summarizer  # imported as it was


def test_a_broken_file_is_listed_with_its_error(tmp_path: Path) -> None:
    (tmp_path / "broken.prompty").write_text("---\nname: [unclosed\n---\nuser:\nhi\n", encoding="utf-8")
    save_prompt(_prompt(), folder=tmp_path)
    rows = {r.file_name: r for r in list_prompts(tmp_path)}
    assert rows["broken"].error is not None and "YAML error at line 3, column 1" in rows["broken"].error
    assert rows["support-answer"].error is None


def test_save_refuses_to_overwrite_a_file_changed_on_disk(tmp_path: Path) -> None:
    save_prompt(_prompt(), folder=tmp_path)
    mine = load_prompt("support-answer", tmp_path)
    theirs = load_prompt("support-answer", tmp_path)
    theirs.description = "Changed by someone else"
    save_prompt(theirs, expected_token=theirs.token, folder=tmp_path)
    mine.description = "My change"
    before = (tmp_path / "support-answer.prompty").read_bytes()
    with pytest.raises(PromptConflictError, match="changed on disk since it was loaded"):
        save_prompt(mine, expected_token=mine.token, folder=tmp_path)
    assert (tmp_path / "support-answer.prompty").read_bytes() == before
    # reloaded, the save goes through, and its token is the next one to use
    mine = load_prompt("support-answer", tmp_path)
    mine.description = "My change"
    saved = save_prompt(mine, expected_token=mine.token, folder=tmp_path)
    assert load_prompt("support-answer", tmp_path).description == "My change"
    assert mine.token == saved.token
    mine.description = "Again"
    save_prompt(mine, expected_token=mine.token, folder=tmp_path)
    assert load_prompt("support-answer", tmp_path).description == "Again"


def test_saving_a_loaded_file_keeps_its_name_and_format(tmp_path: Path) -> None:
    import_prompt((EXAMPLES / "sample.prompt.yml").read_bytes(), "evals.prompt.yaml", tmp_path)
    prompt = load_prompt("evals", tmp_path)
    prompt.description = "edited"
    save_prompt(prompt, expected_token=prompt.token, folder=tmp_path)
    assert _files(tmp_path) == ["evals.prompt.yaml"]
    assert load_prompt("evals", tmp_path).description == "edited"


def test_a_deleted_file_is_a_conflict_not_a_silent_recreate(tmp_path: Path) -> None:
    save_prompt(_prompt(), folder=tmp_path)
    prompt = load_prompt("support-answer", tmp_path)
    (tmp_path / "support-answer.prompty").unlink()
    with pytest.raises(PromptConflictError, match="deleted"):
        save_prompt(prompt, expected_token=prompt.token, folder=tmp_path)
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    "name",
    [
        "../escape",
        "..",
        "a/b",
        "a\\b",
        "/etc/passwd",
        "C:evil",
        ".hidden",
        "~user",
        "x" * 101,
        "bad\0name",
        "tab\tname",
    ],
)
def test_names_that_would_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "prompts"
    with pytest.raises(PromptNameError, match="name"):
        save_prompt(_prompt(), name, folder=folder)
    with pytest.raises(PromptNameError):
        import_prompt((EXAMPLES / "basic.prompty").read_bytes(), name + ".prompty", folder)
    with pytest.raises(PromptNameError):
        load_prompt(name, folder)
    assert _files(tmp_path) == (["prompts"] if folder.exists() else [])
    assert _files(folder) == []


def test_two_prompts_with_one_name_are_refused(tmp_path: Path) -> None:
    save_prompt(_prompt(), "support", folder=tmp_path)
    # same file name, either format
    with pytest.raises(PromptExistsError, match="already exists"):
        save_prompt(_prompt("Other"), "support", folder=tmp_path)
    with pytest.raises(PromptExistsError, match="already exists"):
        save_prompt(_prompt("Other"), "support", "prompt.yml", folder=tmp_path)
    with pytest.raises(PromptExistsError, match="already exists"):
        import_prompt((EXAMPLES / "summarizer.prompt.yml").read_bytes(), "support.prompt.yml", tmp_path)
    # another file, same prompt name
    with pytest.raises(PromptExistsError, match="already named 'Support answer'"):
        save_prompt(_prompt("support ANSWER"), "another", folder=tmp_path)
    assert _files(tmp_path) == ["support.prompty"]
    # two files that share a name (made by hand) are both listed, and opening by the short name says which to use
    (tmp_path / "support.prompt.yml").write_bytes((EXAMPLES / "summarizer.prompt.yml").read_bytes())
    assert len(list_prompts(tmp_path)) == 2
    with pytest.raises(PromptExistsError, match="Two prompts are named 'support'"):
        load_prompt("support", tmp_path)
    assert load_prompt("support.prompt.yml", tmp_path).name == "Text Summarizer"


def test_too_large_files_are_refused(tmp_path: Path) -> None:
    big = b"---\nname: big\n---\nuser:\n" + b"x" * MAX_FILE_BYTES
    with pytest.raises(PromptTooLargeError, match="over the 1,000,000-byte limit"):
        import_prompt(big, "big.prompty", tmp_path)
    (tmp_path / "big.prompty").write_bytes(big)
    with pytest.raises(PromptTooLargeError, match=r"big\.prompty: 1,000,024 bytes"):
        load_prompt("big", tmp_path)
    assert next(r for r in list_prompts(tmp_path) if r.file_name == "big").error is not None
    with pytest.raises(PromptTooLargeError):
        save_prompt(_prompt(question="x" * MAX_FILE_BYTES), "huge", folder=tmp_path)
    assert _files(tmp_path) == ["big.prompty"]


def test_yaml_errors_give_line_and_column_and_write_nothing(tmp_path: Path) -> None:
    text = b"---\nname: ok\nmodel:\n  api: chat\n  parameters: {max_tokens: 5\n---\nuser:\nhi\n"
    with pytest.raises(PromptParseError) as caught:
        import_prompt(text, "bad.prompty", tmp_path)
    assert caught.value.line == 6 and caught.value.column == 1
    assert str(caught.value).startswith("bad.prompty: YAML error at line 6, column 1:")
    yml = b"name: x\nmessages:\n  - role: user\n    content: hi\n  - role: tool\n    content: no\n"
    with pytest.raises(PromptParseError, match=r"line 5: messages\[2\]\.role: 'tool' is not one of"):
        import_prompt(yml, "bad.prompt.yml", tmp_path)
    with pytest.raises(PromptParseError, match=r"line 4: model\.parameters\.max_tokens: must be a whole number"):
        import_prompt(b"---\nmodel:\n  parameters:\n    max_tokens: lots\n---\nhi\n", "p.prompty", tmp_path)
    with pytest.raises(PromptParseError, match="jsonSchema: is not valid JSON"):
        import_prompt(b"name: x\nmessages: []\njsonSchema: '{nope'\n", "j.prompt.yml", tmp_path)
    with pytest.raises(PromptParseError, match="not UTF-8"):
        import_prompt(b"\xff\xfe---", "u.prompty", tmp_path)
    with pytest.raises(PromptParseError, match="not a prompt file"):
        import_prompt(b"name: x", "notes.txt", tmp_path)
    assert _files(tmp_path) == []


def test_bad_evaluators_are_refused_with_their_place() -> None:
    from services.prompts import parse_prompt

    base = "name: x\nmessages: [{role: user, content: hi}]\nevaluators:\n"
    with pytest.raises(PromptParseError, match=r"line 4: evaluators\[1\]: an evaluator has exactly one of"):
        parse_prompt(base + "  - name: both\n    uses: github/fluency\n    string: {contains: a}\n", "prompt.yml")
    with pytest.raises(PromptParseError, match=r"evaluators\[1\]\.llm: needs choices"):
        parse_prompt(base + "  - name: judge\n    llm: {modelId: m, prompt: p}\n", "prompt.yml")


def test_a_failed_write_leaves_no_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_prompt(_prompt(), folder=tmp_path)
    prompt = load_prompt("support-answer", tmp_path)
    before = (tmp_path / "support-answer.prompty").read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    prompt.description = "new"
    with pytest.raises(OSError, match="disk full"):
        save_prompt(prompt, expected_token=prompt.token, folder=tmp_path)
    assert (tmp_path / "support-answer.prompty").read_bytes() == before
    assert _files(tmp_path) == ["support-answer.prompty"]


def test_two_saves_of_one_new_name_cannot_both_win(tmp_path: Path) -> None:
    results: list[str] = []
    start = threading.Barrier(8)

    def save(index: int) -> None:
        start.wait()
        try:
            save_prompt(_prompt(f"Racer {index}"), "race", folder=tmp_path)
            results.append("saved")
        except PromptExistsError:
            results.append("exists")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("saved") == 1
    assert _files(tmp_path) == ["race.prompty"]


def test_duplicate_and_delete(tmp_path: Path) -> None:
    save_prompt(_prompt(), folder=tmp_path)
    first = duplicate_prompt("support-answer", folder=tmp_path)
    second = duplicate_prompt("support-answer", folder=tmp_path)
    assert (first.path.name, second.path.name) == ("support-answer-copy.prompty", "support-answer-copy-2.prompty")
    assert load_prompt("support-answer-copy", tmp_path).name == "Support answer (copy)"
    assert load_prompt("support-answer-copy-2", tmp_path).name == "Support answer (copy 2)"
    assert load_prompt("support-answer-copy", tmp_path).messages == load_prompt("support-answer", tmp_path).messages
    with pytest.raises(PromptExistsError):
        duplicate_prompt("support-answer", "support-answer-copy", folder=tmp_path)
    loaded = load_prompt("support-answer-copy", tmp_path)
    (tmp_path / "support-answer-copy.prompty").write_text(
        (tmp_path / "support-answer-copy.prompty").read_text(encoding="utf-8") + "\nchanged\n", encoding="utf-8"
    )
    with pytest.raises(PromptConflictError, match="not deleted"):
        delete_prompt("support-answer-copy", loaded.token, tmp_path)
    delete_prompt("support-answer-copy", folder=tmp_path)
    with pytest.raises(PromptNotFoundError, match="No prompt named 'support-answer-copy'"):
        load_prompt("support-answer-copy", tmp_path)
    assert _files(tmp_path) == ["support-answer-copy-2.prompty", "support-answer.prompty"]


def test_unknown_fields_survive_a_library_save(tmp_path: Path) -> None:
    text = b"---\nname: keep\nowner: team-a\nmodel:\n  api: chat\n---\nuser:\nhi {{ who }}\n"
    saved = import_prompt(text, "keep.prompty", tmp_path)
    assert any("'owner'" in notice for notice in saved.notices)
    prompt = load_prompt("keep", tmp_path)
    prompt.description = "edited"
    save_prompt(prompt, expected_token=prompt.token, folder=tmp_path)
    again = load_prompt("keep", tmp_path)
    assert again.extra == {"owner": "team-a"}
    assert again.description == "edited"
