"""The loopback server's stand-in model: NOT a language model.

:func:`scripted_reply` derives its answer from the request by a few fixed rules (which tools were
offered, which facts were in the system prompt, how big the photo was), so a test can prove what
the client sent.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device.cloud.client import ToolCall
from device.cloud.tools import DATA_INTRO

DEFAULT_REPLY = (
    "Sunlight is made of every colour. Air molecules scatter short blue waves much more than red"
    " ones. So blue light reaches your eyes from all over the sky. At sunset the light crosses"
    " more air. Then the reds and oranges win."
)
SCRIPTED_CALL_ID = "call_1"  # the model makes at most one call per answer


@dataclass(frozen=True)
class ScriptedReply:
    """What the stand-in model answers: text, or one tool call (the type the client yields)."""

    text: str = ""
    tool_call: ToolCall | None = None


class BadRequest(ValueError):
    """The request cannot be answered; the server turns it into a 400 naming ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class _ToolRule:
    # offered function name the rule needs; a tool of an MCP server also matches offered with
    # its server's name in front ("home__HassTurnOff")
    tool: str
    keywords: tuple[str, ...]  # any of these in the user's text, case-insensitive
    arguments: Callable[[str], dict[str, Any]]

    def offered_as(self, offered: set[str]) -> str | None:
        if self.tool in offered:  # the device's own before a server's of the same name
            return self.tool
        return next((n for n in sorted(offered) if n.split("__")[-1] == self.tool), None)


def _remember_arguments(text: str) -> dict[str, Any]:
    after = re.split("remember", text, maxsplit=1, flags=re.IGNORECASE)[-1]
    fact = re.sub(r"^\W*(that\s+)?", "", after, flags=re.IGNORECASE)
    return {"fact": fact.strip().rstrip(".!?")}


def _timer_arguments(text: str) -> dict[str, Any]:
    number = re.search(r"\d+", text)
    return {"seconds": int(number.group()) if number else 60}


def _device_arguments(text: str) -> dict[str, Any]:
    """Home Assistant's way of naming what to switch: "turn off the kitchen light" ->
    {"name": "kitchen light"}."""
    after = re.split(r"\b(?:turn|switch) (?:on|off)\b", text, maxsplit=1, flags=re.IGNORECASE)
    name = re.sub(r"^\W*(?:the\s+)?", "", after[-1], flags=re.IGNORECASE)
    return {"name": name.strip().rstrip(".!?")}


_TOOL_RULES = (
    _ToolRule("remember", ("remember",), _remember_arguments),
    _ToolRule("set_timer", ("timer",), _timer_arguments),
    _ToolRule("take_photo", ("photo", "picture"), lambda text: {}),
    # Home Assistant's MCP server's tools (docs/mcp.md)
    _ToolRule("HassTurnOff", ("turn off", "switch off"), _device_arguments),
    _ToolRule("HassTurnOn", ("turn on", "switch on"), _device_arguments),
    _ToolRule("GetLiveContext", ("which lights", "what is on"), lambda text: {}),
)


_TOOL_RESULT_LEADS = {
    "remember": "I'll remember that",
    "set_timer": "Timer set",
    "take_photo": "Photo taken",
}


_PALETTE = {
    "red": (200, 30, 30),
    "green": (40, 160, 40),
    "blue": (30, 60, 200),
    "yellow": (230, 210, 40),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "grey": (128, 128, 128),
    "orange": (240, 140, 20),
    "purple": (130, 50, 160),
}


_STOPWORDS = frozenset(
    "a an the is are was were be am do does did what where when who which why how my me i you"
    " your it its of to in on at for and or that this these those tell please again about can"
    " could would will".split()
)


def scripted_reply(body: dict[str, Any], default_text: str = DEFAULT_REPLY) -> ScriptedReply:
    """Answer a chat request from what it contains; raise BadRequest if it cannot be read.

    In order: a tool result last is acknowledged by quoting it ("Done. I'll remember that:
    ..."); a photo in the last user message is described by size and main colour; an offered
    tool whose keyword is in the question is called (see ``_TOOL_RULES``); a remembered fact
    (quoted on a system-prompt line mentioning "remember") sharing a content word
    with the question is repeated ("You told me: ..."); otherwise ``default_text``.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    if not all(isinstance(message, dict) for message in messages):
        raise BadRequest("every message must be an object", "messages")
    if messages[-1].get("role") == "tool":
        return ScriptedReply(text=_tool_result_text(messages, messages[-1]))
    users = [message for message in messages if message.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    question = _content_text(content)
    images = _image_urls(content)
    if images:
        return ScriptedReply(text=_describe_image(images[0]) + _echo(question))
    call = _tool_call_for(question, _offered_functions(body))
    if call is not None:
        return ScriptedReply(tool_call=call)
    system = _system_text(messages)
    translate = re.match(r"Translate the user's message into (\w+)\.", system)
    if translate:
        return ScriptedReply(text=_translated(question, translate.group(1)))
    pair = re.match(r"The user's message was said in (\w+) or in (\w+)\.", system)
    if pair:
        return ScriptedReply(text=_interpreted(question, pair.group(1), pair.group(2)))
    if _system_text(messages).startswith("You summarise a recording"):
        return ScriptedReply(text=_summary(_strings(question.partition(DATA_INTRO)[2])))
    passage = _recalled_fact(messages, question, "recordings were searched")
    if passage:
        return ScriptedReply(text=f"From your recording: {passage}.")
    fact = _recalled_fact(messages, question)
    if fact:
        return ScriptedReply(text=f"You told me: {fact}.")
    return ScriptedReply(text=default_text)


# The stand-in model's whole knowledge of other languages: the demo's and the tests' phrases.
TRANSLATIONS = {
    ("where is the station", "Spanish"): "¿Dónde está la estación?",
    ("thank you very much", "French"): "Merci beaucoup.",
    ("where is the station", "Chinese"): "火车站在哪里？",
}


# Both ways, for conversation translation: (words, their language) -> (code, the other's words)
CONVERSATION = {
    ("where is the station", "English"): ("es", "¿Dónde está la estación?"),
    ("esta detras del museo", "Spanish"): ("en", "It is behind the museum."),
}


def _translated(text: str, language: str) -> str:
    return TRANSLATIONS.get((_words(text), language), f"({language}) {text}")


def _interpreted(text: str, first: str, second: str) -> str:
    """ "code: translation", as the prompt asks; unknown words are said back in brackets."""
    for language in (first, second):
        known = CONVERSATION.get((_words(text), language))
        if known:
            return f"{known[0]}: {known[1]}"
    return f"({first} or {second}) {text}"


def _words(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z']+", plain))


def _system_text(messages: list[dict[str, Any]]) -> str:
    first = messages[0]
    return _content_text(first.get("content")) if first.get("role") == "system" else ""


def _summary(lines: list[str]) -> str:
    """A mechanical summary of "[0:12] words" lines: the first line, those that say what was
    agreed or decided, those that say who will do something. Proves what reached the model."""
    said = [line.partition("] ")[2] or line for line in lines]
    decided = [t for t in said if re.search(r"\b(?:agree|agreed|decide|decided)\b", t, re.I)]
    actions = [t for t in said if re.search(r"\bwill\b", t, re.I)]
    return "\n".join(
        [
            "Key points: " + (said[0] if said else "None"),
            "Decisions: " + ("; ".join(decided) or "None"),
            "Action items: " + ("; ".join(actions) or "None"),
        ]
    )


def _content_text(content: Any) -> str:
    """The text of a message whose content is a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text", "") for part in content if isinstance(part, dict)]
        return " ".join(text for text in texts if isinstance(text, str) and text)
    return ""


def _image_urls(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    urls = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else None
            if not isinstance(url, str):
                raise BadRequest("image_url.url must be a string", "messages")
            urls.append(url)
    return urls


def _describe_image(url: str) -> str:
    # Pillow is only needed by vision requests; importing it lazily keeps this module light.
    from PIL import Image, ImageStat

    data = _decode_data_url(url)
    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadRequest(f"the image could not be decoded: {exc}", "messages") from exc
    mean = ImageStat.Stat(rgb).mean
    colour = min(_PALETTE, key=lambda name: math.dist(_PALETTE[name], mean))
    return f"I see a picture {rgb.width} by {rgb.height} pixels, mostly {colour}."


def _decode_data_url(url: str) -> bytes:
    # A remote image URL would need the internet, which this server must never touch.
    header, comma, payload = url.partition(",")
    if not (header.startswith("data:") and header.endswith(";base64") and comma):
        raise BadRequest("only base64 data: URLs are accepted for images", "messages")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise BadRequest(f"the image data URL is not valid base64: {exc}", "messages") from exc


def _echo(question: str) -> str:
    words = question.split()
    if not words:
        return ""
    short = " ".join(words[:8]) + ("..." if len(words) > 8 else "")
    return f' You asked: "{short}"'


def _offered_functions(body: dict[str, Any]) -> set[str]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return set()
    functions = [tool.get("function") for tool in tools if isinstance(tool, dict)]
    return {f["name"] for f in functions if isinstance(f, dict) and isinstance(f.get("name"), str)}


def _tool_call_for(text: str, offered: set[str]) -> ToolCall | None:
    lowered = text.lower()
    for rule in _TOOL_RULES:
        name = rule.offered_as(offered)
        if name is not None and any(word in lowered for word in rule.keywords):
            return ToolCall(SCRIPTED_CALL_ID, name, json.dumps(rule.arguments(text)))
    return None


def _tool_result_text(messages: list[dict[str, Any]], tool_message: dict[str, Any]) -> str:
    name = _called_tool_name(messages, tool_message.get("tool_call_id"))
    result = _content_text(tool_message.get("content")).strip().rstrip(".")
    lead, quoted, data = result.partition(" " + DATA_INTRO)
    if quoted:  # read the quoted texts, as a model would
        result = f"{lead}: {'; '.join(_strings(data))}"
    return f"Done. {_TOOL_RESULT_LEADS.get(name, 'The tool said')}: {result}."


def _strings(text: str) -> list[str]:
    """The strings of a JSON list, or [] when ``text`` is not one."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text.strip())
    except ValueError:
        return []
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _called_tool_name(messages: list[dict[str, Any]], call_id: Any) -> str:
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and call.get("id") == call_id:
                function = call.get("function")
                return str(function.get("name", "")) if isinstance(function, dict) else ""
    return ""


def _remembered_facts(messages: list[dict[str, Any]], mention: str = "remember") -> list[str]:
    """The quoted facts (a JSON list after the data intro) on a system-prompt line that mentions
    ``mention``, as the cloud brain writes them."""
    facts = []
    for message in messages:
        if message.get("role") not in ("system", "developer"):
            continue
        for line in _content_text(message.get("content")).splitlines():
            head, quoted, data = line.partition(DATA_INTRO)
            if quoted and mention in head.lower():
                facts += _strings(data)
    return facts


def _content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w for w in words if w not in _STOPWORDS and (len(w) > 1 or w.isdigit())}


def _recalled_fact(messages: list[dict[str, Any]], question: str, mention: str = "remember") -> str:
    asked = _content_words(question)
    best, best_overlap = "", 0
    for fact in _remembered_facts(messages, mention):
        overlap = len(asked & _content_words(fact))
        if overlap > best_overlap:
            best, best_overlap = fact, overlap
    return best.rstrip(".")
