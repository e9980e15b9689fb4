"""A ticket's text in each tracker's format: Atlassian Document Format (Jira Cloud, REST
v3), wiki markup (Jira Data Center, REST v2) and Markdown (GitHub).

Text people or alerts wrote is put in as text, never as markup: ADF carries it in text
nodes; wiki markup and Markdown escape their special characters. A long document is cut
to what the tracker stores, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .base import Link

JIRA_TEXT_MAX = 32_767  # Jira's limit for a text field (description, comment body)
GITHUB_BODY_MAX = 65_536
_CUT_NOTE = "\n… (cut here: the tracker holds no more; the full text is in firstresponder)"
_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|*_!^~+?]|^[#-]|^h[1-6]\.)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(_CUT_NOTE)] + _CUT_NOTE


# --- Atlassian Document Format --------------------------------------------------------


def adf(lines: Sequence[str], links: Sequence[Link] = (), document: str = "") -> dict[str, Any]:
    """An ADF `doc`: one paragraph per line, the links as a list, the document as a
    Markdown code block (ADF has no Markdown; a code block keeps it readable as written)."""
    content: list[dict[str, Any]] = [_paragraph([_text(line)]) for line in lines if line]
    if links:
        items = [
            {"type": "listItem", "content": [_paragraph([_text(link.text, link.href)])]}
            for link in links
        ]
        content.append({"type": "bulletList", "content": items})
    if document:
        budget = JIRA_TEXT_MAX - sum(len(line) for line in lines) - 200
        content.append(
            {
                "type": "codeBlock",
                "attrs": {"language": "markdown"},
                "content": [_text(cut(document, budget))],
            }
        )
    return {"type": "doc", "version": 1, "content": content}


def _paragraph(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "paragraph", "content": nodes}


def _text(text: str, href: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text or " "}  # ADF refuses empty text
    if href:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


# --- Jira wiki markup ------------------------------------------------------------------


def wiki(lines: Sequence[str], links: Sequence[Link] = (), document: str = "") -> str:
    parts = [_WIKI_SPECIAL.sub(r"\\\1", line) for line in lines if line]
    if links:
        parts.append("\n".join(f"* [{_wiki_link_text(link.text)}|{link.href}]" for link in links))
    if document:
        body = document.replace("{noformat}", "{ noformat}")
        budget = JIRA_TEXT_MAX - sum(len(part) + 2 for part in parts) - 40
        parts.append("{noformat}\n" + cut(body, budget) + "\n{noformat}")
    return "\n\n".join(parts)


def _wiki_link_text(text: str) -> str:
    return re.sub(r"[\[\]|]", " ", text)


# --- Markdown (GitHub) -------------------------------------------------------------------


def markdown(lines: Sequence[str], links: Sequence[Link] = (), document: str = "") -> str:
    parts = [_MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in lines if line]
    if links:
        parts.append(
            "\n".join(
                f"- [{_MARKDOWN_SPECIAL.sub(r'', link.text)}]({_href(link.href)})" for link in links
            )
        )
    if document:
        budget = GITHUB_BODY_MAX - sum(len(part) + 2 for part in parts)
        parts.append(cut(document, budget))  # the review draft is Markdown already
    return "\n\n".join(parts)


def _href(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
