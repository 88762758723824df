"""Read and write either prompt format: `.prompty` (services/prompt_prompty.py) and `.prompt.yml`
(services/prompt_yml.py), converting between them (services/prompt_convert.py) when a prompt is written in the other."""

from __future__ import annotations

from services.prompt_convert import convert
from services.prompt_model import Prompt, PromptFormat, PromptParseError
from services.prompt_prompty import dump_prompty, parse_prompty
from services.prompt_yaml import Dumped
from services.prompt_yml import dump_prompt_yml, parse_prompt_yml

__all__ = ["Dumped", "convert", "dump_prompt", "format_of", "parse_prompt"]


def format_of(filename: str) -> PromptFormat:
    """The format a file name says: `.prompty`, or `.prompt.yml` / `.prompt.yaml`."""
    lower = filename.lower()
    if lower.endswith(".prompty"):
        return "prompty"
    if lower.endswith((".prompt.yml", ".prompt.yaml")):
        return "prompt.yml"
    raise PromptParseError(f"{filename}: not a prompt file (the name must end in .prompty, .prompt.yml, .prompt.yaml).")


def parse_prompt(text: str, fmt: PromptFormat, source: str | None = None) -> Prompt:
    """Parse either format."""
    if fmt == "prompty":
        return parse_prompty(text, source or "prompt.prompty")
    return parse_prompt_yml(text, source or "prompt.prompt.yml")


def dump_prompt(prompt: Prompt, fmt: PromptFormat) -> Dumped:
    """Write either format (converting when the prompt came from the other)."""
    return dump_prompty(prompt) if fmt == "prompty" else dump_prompt_yml(prompt)
