"""The prompt asset as plain data (what a `.prompty` or `.prompt.yml` file holds), and the errors reading one raises.

services/prompts.py is the one module callers import; it lists where each part lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

PromptFormat = Literal["prompty", "prompt.yml"]
# How message templates are written: Jinja2 (Prompty's default), Mustache (a Prompty file may declare it), or the
# plain `{{name}}` placeholders that GitHub Models substitutes.
TemplateSyntax = Literal["jinja2", "mustache", "placeholders"]
ResponseFormat = Literal["text", "json_object", "json_schema"]
ROLES = ("system", "user", "assistant")
MAX_FILE_BYTES = 1_000_000  # a prompt file, an upload and a rendered prompt are each at most this big


class PromptError(ValueError):
    """Base of every prompt error: `str(error)` is one sentence saying what is wrong and where."""


class PromptParseError(PromptError):
    """The file is not a prompt: YAML syntax (with line and column), or a field of the wrong shape (with its path)."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        super().__init__(message)


class PromptTemplateError(PromptError):
    """A template does not render: a syntax error, a missing variable, or output past the size limit."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        variable: str | None = None,
        message_index: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.line = line  # line in the template (or the message) where it went wrong
        self.variable = variable
        self.message_index = message_index  # which message, 0-based, when known
        self.detail = detail or message  # what went wrong, without where
        super().__init__(message)


class PromptUndefinedError(PromptTemplateError):
    """The template uses a variable that was given no value (`variable` names it)."""


class PromptTooLargeError(PromptError):
    """A file, an upload or a rendered prompt over MAX_FILE_BYTES."""


def too_large(source: str, size: int) -> PromptTooLargeError:
    """The error for a file or upload of `size` bytes."""
    return PromptTooLargeError(f"{source}: {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit for a prompt.")


class PromptNameError(PromptError):
    """A prompt file name that is empty, hidden, or would leave the prompts folder (`../`, `/`, a drive)."""


class PromptExistsError(PromptError):
    """Another prompt already has this name (file name, in either format, or the `name` field)."""


class PromptConflictError(PromptError):
    """The file changed on disk since it was loaded; saving would overwrite someone else's change."""


class PromptNotFoundError(PromptError):
    """No prompt file by that name in the folder."""


class PromptConvertError(PromptError):
    """A template uses something the target format cannot express (e.g. Jinja2 logic in a `.prompt.yml`)."""


class PromptMessage(BaseModel):
    """One message template, in order; the system prompt is a message too."""

    role: str
    content: str = ""
    source_line: int | None = None  # line of the file where the content starts, for error messages


class PromptVariable(BaseModel):
    """A template variable: found in the templates and/or declared in Prompty's `inputs`."""

    name: str
    type: str | None = None  # Prompty input type: string, number, array, object, boolean
    description: str | None = None
    default: Any = None
    declared: bool = False  # listed under `inputs` (written back there)
    extra: dict[str, Any] = Field(default_factory=dict)  # other keys of the input (kept as they were)


class ModelRef(BaseModel):
    """Which model the file asks for. Values may be `${env:VAR}` references: kept as text, never resolved."""

    api: Literal["chat", "completion"] = "chat"
    type: str | None = None  # azure_openai, openai, serverless, azure_serverless, ...
    endpoint: str | None = None  # azure_endpoint / endpoint / base_url
    deployment: str | None = None  # azure_deployment / name / model; a .prompt.yml `model` id
    api_version: str | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)  # Prompty's configuration as written (no secrets)
    response: Any = None  # Prompty's model.response (first | all)


class PromptParameters(BaseModel):
    """Request parameters in the API's own names (what services.client's chat() takes)."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: ResponseFormat | None = None
    json_schema: dict[str, Any] | None = None  # {"name", "schema", "strict"?} when response_format is json_schema
    extra: dict[str, Any] = Field(default_factory=dict)  # other Prompty model.parameters (tools, tool_choice, ...)


class Prompt(BaseModel):
    """A prompt asset, independent of the file format it came from."""

    name: str = ""
    description: str = ""
    authors: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    version: str | None = None
    model: ModelRef = Field(default_factory=ModelRef)
    parameters: PromptParameters = Field(default_factory=PromptParameters)
    messages: list[PromptMessage] = Field(default_factory=list)
    syntax: TemplateSyntax = "jinja2"
    template_setting: Any = None  # Prompty's `template:` as written (None: not declared)
    variables: dict[str, PromptVariable] = Field(default_factory=dict)
    test_data: list[dict[str, Any]] = Field(default_factory=list)  # Prompty's `sample` is row 0
    evaluators: list[dict[str, Any]] = Field(default_factory=list)  # .prompt.yml evaluators, kept as data
    outputs: Any = None  # Prompty's `outputs`, kept as data
    sample_ref: str | None = None  # Prompty `sample: ${file:...}`: kept as a reference, not read
    extra: dict[str, Any] = Field(default_factory=dict)  # unknown top-level fields of the source, kept
    notices: list[str] = Field(default_factory=list)  # what was kept, left out or changed, in words
    source_format: PromptFormat | None = None
    path: Path | None = None
    token: str | None = None  # the file's content hash when loaded: save() refuses if the file changed since

    def sample_values(self) -> dict[str, Any]:
        """The first test data row (Prompty's `sample`), or {}."""
        return dict(self.test_data[0]) if self.test_data else {}

    def initial_values(self) -> dict[str, Any]:
        """A value for each variable to prefill a form: the sample, else the declared default, else ""."""
        sample = self.sample_values()
        values: dict[str, Any] = {}
        for name, variable in self.variables.items():
            if name in sample:
                values[name] = sample[name]
            elif variable.default is not None:
                values[name] = variable.default
            else:
                values[name] = ""
        return values
