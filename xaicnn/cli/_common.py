"""Argument helpers shared by the command modules (no heavy imports here)."""
from __future__ import annotations

import ast

from ..errors import UserError


def parse_input_size(text: str) -> tuple[int, int, int]:
    """'3,224,224' -> (3, 224, 224)."""
    try:
        parts = tuple(int(p) for p in text.replace("x", ",").split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 1:
        raise UserError(f"--input-size must be three positive integers C,H,W such as 3,32,32; got {text!r}.")
    return parts


def add_model_options(parser) -> None:
    parser.add_argument("--option", "-O", action="append", default=[], metavar="KEY=VALUE",
                        help="architecture option, e.g. -O width=0.5 -O kernel_size=7 (see 'xaicnn archs --json')")


def parse_model_options(items: list[str]) -> dict:
    """['width=0.5', 'batch_norm=True', 'stem=small'] -> {'width': 0.5, 'batch_norm': True, 'stem': 'small'}."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--option takes KEY=VALUE such as width=0.5; got {item!r}.")
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = value.strip()
    return options
