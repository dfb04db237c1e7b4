"""Random sentences from the recogniser's JSGF grammar (``device.skills.intents.jsgf_grammar``):
every way the grammar hears a command, so the English command model trains on the phrasings the
device accepts ("turn it down", "what day is it today"), not only each command's examples.

Only what that grammar uses is read: rules ``<name> = expansion;``, alternatives ``|``, groups
``( )``, optional parts ``[ ]``, rule references and weights (``/0.05/``, ignored).
"""

from __future__ import annotations

import random
import re

_TOKEN = re.compile(r"/[0-9.]+/|<[^>]+>|[\[\]()|]|[^\s\[\]()|<>/;]+")
_RULE = re.compile(r"^(?:public\s+)?<([^>]+)>\s*=\s*(.*);$")


def rules(jsgf: str) -> dict[str, str]:
    """Each rule's expansion by name, from a grammar's text."""
    found = {}
    for line in jsgf.splitlines():
        match = _RULE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def sample(expansion: str, grammar: dict[str, str], rng: random.Random) -> str:
    """One sentence the expansion (with ``grammar``'s rules) accepts, chosen at random: each
    alternative equally likely, each optional part half the time."""
    tokens = _TOKEN.findall(expansion)
    words, end = _alternatives(tokens, 0, grammar, rng)
    if end != len(tokens):
        raise ValueError(f"unbalanced expansion: {expansion!r}")
    return " ".join(words)


def _alternatives(
    tokens: list[str], at: int, grammar: dict[str, str], rng: random.Random
) -> tuple[list[str], int]:
    """(the words of one alternative, chosen at random; where the group ends)."""
    choices: list[list[str]] = [[]]
    while at < len(tokens) and tokens[at] not in (")", "]"):
        token = tokens[at]
        if token == "|":
            choices.append([])
        elif token in ("(", "["):
            words, at = _alternatives(tokens, at + 1, grammar, rng)
            if token == "(" or rng.random() < 0.5:
                choices[-1].extend(words)
        elif token.startswith("<"):
            choices[-1].extend(sample(grammar[token[1:-1]], grammar, rng).split())
        elif not token.startswith("/"):
            choices[-1].append(token)
        at += 1
    return rng.choice(choices), at
