"""Untrusted markdown rewritten so it loads no image, runs no HTML and shows every link's target."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from services.safe_markdown import (
    code_block,
    code_span,
    escape_markdown,
    image_allowed,
    image_hosts_from_env,
    is_inert,
    safe_markdown,
)

PIXEL = "http://127.0.0.1:9/pixel.png"
# A CommonMark + GFM renderer that, like a browser, would load images and keep raw HTML: what must never survive.
RENDER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

NASTY = [
    f"![x]({PIXEL})",
    f"before ![x]({PIXEL}?q=secret) after",
    f'![x]({PIXEL} "title")',
    f"![x][pix]\n\n[pix]: {PIXEL}",
    f"![x][]\n\n[x]: <{PIXEL}>",
    f"[![x]({PIXEL})](http://evil.example/)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](javascript:alert(1))",
    "![x](//evil.example/p.png)",
    "![x](/media/local.png)",
    f"- item ![x]({PIXEL})\n  - nested ![y]({PIXEL})",
    f"> quoted ![x]({PIXEL})\n> <img src='{PIXEL}'>",
    f"| a | b |\n|---|---|\n| ![x]({PIXEL}) | <img src={PIXEL}> |",
    f'<img src="{PIXEL}">',
    f"text <img src={PIXEL} onerror=alert(1)> text",
    "<script>alert(1)</script>",
    "<div>\n<script>alert(1)</script>\n</div>",
    "<!-- comment --><iframe src='http://evil.example'></iframe>",
    f"<a href='http://evil.example'>x</a> <svg onload=alert(1)><image href='{PIXEL}'/></svg>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "<javascript:alert(1)>",
    "[x](vbscript:msgbox)",
    "[x](file:///etc/passwd)",
    f"*![x]({PIXEL})* **![y]({PIXEL})** ~~![z]({PIXEL})~~",
    f"![a ![b]({PIXEL})]({PIXEL})",
    f"![x](<{PIXEL}>)",
    f"![x]({PIXEL.replace('pixel', 'pi)xel')})",
    "![x](http://allowed.example@evil.example/p.png)",
    "&lt;img src=x&gt; &#60;script&#62;",
    "> " * 200 + f"![x]({PIXEL})",
    "[" * 500 + f"![x]({PIXEL})" + "]" * 500,
    f"```\n![x]({PIXEL})\n```\n![y]({PIXEL})",
    f"Setext with image ![x]({PIXEL})\n===",
    f"1. one\n2. ![x]({PIXEL})\n\n   <img src={PIXEL}>",
    f"\\![not an image]({PIXEL}) but ![this is]({PIXEL})",
]


def _images(rendered: str) -> list[str]:
    return re.findall(r"<img\b", rendered, re.IGNORECASE)


def _visible(rendered: str) -> str:
    """The text a reader sees in rendered HTML (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


@pytest.mark.parametrize("text", NASTY)
def test_nasty_input_loads_no_image_and_runs_no_html(text: str) -> None:
    out = safe_markdown(text)
    rendered = RENDER.render(out)
    assert not _images(rendered), rendered
    assert not re.search(r"<(script|iframe|svg|div|a href=['\"]?javascript|img)\b", rendered, re.IGNORECASE), rendered
    assert not re.search(r"href=\"(javascript|vbscript|file|data):", rendered, re.IGNORECASE), rendered
    assert is_inert(out)


def test_a_remote_image_becomes_a_link_that_names_its_address() -> None:
    rendered = RENDER.render(safe_markdown(f"Look: ![a cat]({PIXEL})"))
    assert not _images(rendered)
    assert f'<a href="{PIXEL}">image: a cat</a>' in rendered
    assert PIXEL in _visible(rendered)


def test_a_data_url_image_is_neither_loaded_nor_linked() -> None:
    out = safe_markdown("![dot](data:image/png;base64,iVBORw0KGgo=)")
    assert "data:" not in out
    assert _visible(RENDER.render(out)).strip() == "image: dot (embedded data, not loaded)"


def test_a_reference_image_loses_its_definition() -> None:
    out = safe_markdown(f"![x][pix]\n\n[pix]: {PIXEL}")
    assert not _images(RENDER.render(out))
    assert "[pix]:" not in out


def test_images_from_an_allowed_host_are_kept_and_others_not() -> None:
    hosts = {"images.example.com", "127.0.0.1:9"}
    kept = safe_markdown("![a](https://images.example.com/a.png) ![b](http://127.0.0.1:9/b.png)", hosts)
    assert len(_images(RENDER.render(kept))) == 2
    for src in (
        "https://evil.example/a.png?images.example.com",
        "https://images.example.com@evil.example/a.png",
        "https://images.example.com.evil.example/a.png",
        "http://127.0.0.1:10/b.png",
        "ftp://images.example.com/a.png",
        "data:image/png;base64,AAAA",
    ):
        assert not _images(RENDER.render(safe_markdown(f"![a]({src})", hosts))), src


def test_image_allowed_refuses_authorities_that_parsers_read_differently() -> None:
    hosts = {"good.example"}
    assert image_allowed("https://good.example/x.png", hosts)
    assert image_allowed("https://GOOD.example/x.png", hosts)
    assert not image_allowed("https://evil.example%2F@good.example/x.png", hosts)
    assert not image_allowed("https://evil.example\\@good.example/x.png", hosts)
    assert not image_allowed("javascript://good.example/%0aalert(1)", hosts)


def test_image_hosts_come_from_a_comma_list_in_the_environment() -> None:
    env = {"PLAYGROUND_MARKDOWN_IMAGE_HOSTS": " Images.Example.com, ,127.0.0.1:9 "}
    assert image_hosts_from_env(env) == {"images.example.com", "127.0.0.1:9"}
    assert image_hosts_from_env({}) == frozenset()


def test_a_link_shows_its_target_beside_its_text() -> None:
    rendered = RENDER.render(safe_markdown("Read [the docs](https://evil.example/phish) now."))
    assert '<a href="https://evil.example/phish">the docs</a>' in rendered
    assert "https://evil.example/phish" in _visible(rendered)


def test_a_link_whose_text_is_another_address_shows_the_real_one() -> None:
    rendered = RENDER.render(safe_markdown("[https://bank.example](https://evil.example/login)"))
    assert "https://evil.example/login" in _visible(rendered)


def test_a_link_whose_text_is_its_target_is_not_repeated() -> None:
    out = safe_markdown("[https://example.com/a](https://example.com/a) and <https://example.com/b>")
    visible = _visible(RENDER.render(out))
    assert visible.count("https://example.com/a") == 1 and visible.count("https://example.com/b") == 1


def test_an_empty_link_text_shows_the_target() -> None:
    visible = _visible(RENDER.render(safe_markdown("[](https://evil.example/hidden)")))
    assert "https://evil.example/hidden" in visible


def test_a_link_with_another_scheme_is_text_naming_it() -> None:
    rendered = RENDER.render(safe_markdown("[click me](javascript:alert(1))"))
    assert "<a " not in rendered
    assert "click me" in _visible(rendered) and "javascript:alert(1)" in _visible(rendered)


def test_raw_html_is_shown_as_its_own_text() -> None:
    inline = _visible(RENDER.render(safe_markdown(f"a <img src={PIXEL}> b")))
    assert f"a <img src={PIXEL}> b" in inline
    block = RENDER.render(safe_markdown("<script>alert(1)</script>"))
    assert "<script>" not in block and "<script>alert(1)</script>" in _visible(block)


def test_image_syntax_inside_code_stays_code() -> None:
    text = f"Use `![x]({PIXEL})` or:\n\n```markdown\n![x]({PIXEL})\n<img src=x>\n```"
    assert RENDER.render(safe_markdown(text)) == RENDER.render(text)


BENIGN = [
    "Plain text with *emphasis*, **strong**, ~~struck~~ and `code`.",
    "# Title\n\nSome text.\n\n## Sub\n\nMore text.",
    "Setext\n======\n\nline one\nline two  \nhard break",
    "- a\n- b\n  - c\n- d",
    "1. one\n2. two\n\n   second paragraph\n3. three",
    "3) three\n4) four",
    "* star\n* list\n\n+ plus\n+ list",
    "> quote\n> more\n>\n> - in list\n\nafter",
    "```python\nprint('hi')\n```\n\n~~~\ntilde ```\n~~~",
    "    indented code\n    more",
    "| a | b | c |\n|:--|:-:|--:|\n| 1 | `x|y` | \\| |\n| 2 | **b** | |",
    "Escapes: \\*not\\*, \\_not\\_, \\# not, \\[not a link\\], a \\\\ b",
    "Math: $\\frac{a}{b}$ and $$x_1^2$$, snake_case_name, 2 * 3 * 4",
    "Entities: &amp; &copy; &#35; AT&T",
    "text\n\n---\n\ntext\n\n- item\n\n  ***\n",
    "A line ending with backslash\\\nnext",
    "Autolink <https://example.com> and <me@example.com>",
]


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_markdown_renders_as_before(text: str) -> None:
    assert RENDER.render(safe_markdown(text)) == RENDER.render(text)


def test_deep_nesting_is_handled_without_an_error() -> None:
    image = f"![x]({PIXEL})"
    for text in ("> " * 5000 + image, "- " * 5000 + image, "*" * 5000 + image + "*" * 5000, "[" * 3000 + image):
        assert is_inert(safe_markdown(text))


def test_text_that_cannot_hold_a_link_image_or_html_is_returned_as_it_is() -> None:
    text = "# Plain\n\n*emphasis* with `code`, 3 > 2 and $x_1$ ! (no brackets)"
    assert safe_markdown(text) is text


def test_very_long_text_is_shown_as_a_code_block() -> None:
    text = f"![x]({PIXEL}) " + "word " * 50_000
    rendered = RENDER.render(safe_markdown(text))
    assert rendered.startswith("<pre><code>") and not _images(rendered)


def test_escape_markdown_shows_exactly_the_characters() -> None:
    text = "![x](http://a/p.png) <b>*_`#|~:material/x: $1$ [a]: b"
    assert _visible(RENDER.render(escape_markdown(text))).strip() == text


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "`", " lead", "x` ![i](http://a/p.png) `y", "a\nb"])
def test_code_span_holds_any_text_literally(text: str) -> None:
    rendered = RENDER.render(code_span(text))
    assert "<img" not in rendered
    assert re.search(r"<code>(.*)</code>", rendered, re.S).group(1) == html.escape(
        " ".join(text.splitlines()), quote=False
    )  # type: ignore[union-attr]


def test_code_block_fences_longer_than_its_content() -> None:
    text = "````\n![x](http://a/p.png)\n````"
    rendered = RENDER.render(code_block(text))
    assert "<img" not in rendered and html.escape(text, quote=False) in rendered


def test_is_inert_flags_what_would_load_or_run() -> None:
    assert not is_inert(f"![x]({PIXEL})")
    assert not is_inert("<b>x</b>")
    assert not is_inert("[x](javascript:alert(1))")
    assert is_inert(f"[x]({PIXEL})")
    assert is_inert(f"![x]({PIXEL})", {"127.0.0.1:9"})
