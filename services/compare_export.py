"""The whole comparison as one self-contained HTML file: turns, parameters, metrics and votes, never a secret."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from services.blind_mask import BlindMask
from services.compare_model import (
    ALL_BAD,
    TIE,
    MetricsRow,
    PaneReply,
    Turn,
    api_tool_calls,
    best_panes,
    conversation_rows,
    last_turn_rows,
)
from services.config import Deployment
from services.transcript import FAILED_MARK

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin:.2rem 0}
.turn{border-top:1px solid #d0d7de;padding-top:1rem;margin-top:1rem}
.prompt{background:#f6f8fa;border-radius:6px;padding:.6rem .8rem;white-space:pre-wrap}
.panes{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:1rem;margin-top:.8rem}
.pane{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .8rem}
.reply{white-space:pre-wrap}.error{color:#cf222e;white-space:pre-wrap}.muted{color:#656d76;font-size:.85rem}
.winner{border-color:#1a7f37;box-shadow:0 0 0 2px #1a7f3733}
table{border-collapse:collapse;margin-top:.5rem}td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}.best{font-weight:700;background:#dafbe1}
pre{background:#f6f8fa;padding:.4rem;border-radius:6px;white-space:pre-wrap}
.tool-result{border-left:3px solid #8250df;padding-left:.6rem;margin:.4rem 0}.tool-call{margin:.4rem 0}
"""


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: float | int | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 0.01 and value else f"{value:.2f}"
    return str(value)


def _metrics_table(title: str, rows: Sequence[MetricsRow], names: Mapping[str, str]) -> str:
    if not rows:
        return ""
    best = best_panes(rows)
    columns = list(rows[0].values)
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            marked = row.pane_id in best.get(column, set())
            css = ' class="best"' if marked else ""
            cells.append(f"<td{css}>{_esc(_fmt(row.values[column]))}{' ★' if marked else ''}</td>")
        body.append(f"<tr><td>{_esc(names.get(row.pane_id, row.pane_id))}</td>{''.join(cells)}</tr>")
    return f"<h3>{_esc(title)}</h3><table><tr><th>Pane</th>{head}</tr>{''.join(body)}</table>"


def _vote_text(turn: Turn, names: Mapping[str, str]) -> str:
    if turn.vote is None:
        return "no vote"
    if turn.vote == TIE:
        return "tie"
    if turn.vote == ALL_BAD:
        return "all bad"
    return f"{names.get(turn.vote, turn.vote)} was better"


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """Belt and braces: a key or header value that slipped into any user-typed field is masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "•••")
            text = text.replace(html.escape(secret), "•••")
    return text


def _call_label(call_id: str, show_ids: bool) -> str:
    return f" · call {_esc(call_id)}" if show_ids else ""


def _reply_parts(
    reply: PaneReply,
    shown: str,
    hide: Callable[[str], str],
    *,
    show_ids: bool = True,
    answer: Callable[[str], str] = str,
) -> list[str]:
    """One answer of a pane: text, tool calls, the results given to them, notes, error and parameters. Call ids are
    left out of a blind export: their form (`toolu_…`, `call_…`) hints at the provider. `answer` hides the names a
    model gives itself (while blind)."""
    parts = [f"<div class='reply'>{_esc(answer(reply.text))}</div>"] if reply.text else []
    calls = api_tool_calls(reply)
    for call in calls:
        function = call["function"]
        parts.append(
            f"<div class='tool-call'><p class='muted'>Tool call · {_esc(function['name'])}"
            f"{_call_label(call['id'], show_ids)}</p><pre>{_esc(answer(function['arguments']))}</pre></div>"
        )
    names = {call["id"]: call["function"]["name"] for call in calls}
    for result in reply.tool_results:
        parts.append(
            f"<div class='tool-result'><p class='muted'>Tool result · {_esc(names.get(result.call_id, '?'))}"
            f"{_call_label(result.call_id, show_ids)}</p><pre>{_esc(result.content)}</pre></div>"
        )
    if reply.status == "stopped":
        parts.append("<p class='muted'>stopped</p>")
    if reply.failed:
        parts.append(f"<p class='muted'>{_esc(FAILED_MARK)} (left out of this pane's later history)</p>")
    if reply.error is not None:
        error_text = str(reply.error)
        if reply.deployment and reply.deployment not in shown:
            # While blind the reader sees only the label: the error must not name the deployment either.
            error_text = error_text.replace(reply.deployment, shown)
        parts.append(f"<p class='error'>{_esc(hide(error_text))}</p>")
    settings: dict[str, Any] = {"system": reply.system_prompt, **reply.params}
    parts.append(
        f"<details><summary class='muted'>Parameters</summary><pre>"
        f"{_esc(hide(json.dumps(settings, indent=2, default=str)))}</pre></details>"
    )
    return parts


def export_html(
    turns: Sequence[Turn],
    pane_ids: Sequence[str],
    names: Mapping[str, str],
    deployments: Mapping[str, Deployment],
    *,
    tally: Counter[str] | None = None,
    title: str = "Model comparison",
    now: dt.datetime | None = None,
    mask: BlindMask | None = None,
) -> str:
    """Render the comparison as a standalone HTML page (inline CSS, no scripts, no external resources).

    `names` maps pane ids to what the reader sees (deployment names, or "Model A" labels while blind).
    `deployments` are only used to mask their secrets (keys, header values); none is written. While blind, `mask`
    hides the deployments', models' and endpoints' names in every error and parameter list, and in the answers the
    names a model gives itself (its family, its maker).
    """
    hide = mask.text if mask is not None else str
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1><p class='muted'>Exported {stamp} · {len(turns)} turn(s) · {len(pane_ids)} pane(s)</p>",
    ]
    for index, turn in enumerate(turns, start=1):
        parts.append(f"<section class='turn'><h2>Turn {index}</h2><div class='prompt'>{_esc(turn.prompt)}</div>")
        parts.append(f"<p class='muted'>Vote: {_esc(_vote_text(turn, names))}</p><div class='panes'>")
        for pid in pane_ids:
            chain = turn.chain(pid)
            if not chain:
                continue
            css = "pane winner" if turn.vote == pid else "pane"
            parts.append(f"<div class='{css}'><h3>{_esc(names.get(pid, pid))}</h3>")
            for reply in chain:
                parts += _reply_parts(
                    reply,
                    names.get(pid, reply.deployment),
                    hide,
                    show_ids=mask is None,
                    answer=mask.answer if mask is not None else str,
                )
            parts.append("</div>")
        parts.append("</div>")
        parts.append(_metrics_table("Metrics", last_turn_rows([turn], pane_ids), names))
        parts.append("</section>")
    if turns:
        parts.append("<h2>Whole conversation</h2>")
        parts.append(_metrics_table("Summed over the conversation", conversation_rows(turns, pane_ids), names))
    if tally:
        items = "".join(f"<li>{_esc(k.replace(ALL_BAD, 'all bad'))}: {v}</li>" for k, v in tally.most_common())
        parts.append(f"<h2>Vote tally (this session)</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    secrets = [secret for d in deployments.values() for secret in d.secret_values()]
    return _scrub("".join(parts), secrets)
