"""How the command line ends on bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import re
import sys
from typing import NoReturn

from convlab.config.suggest import without_search_path

EXIT_BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    """Print one error line and exit with EXIT_BAD_INPUT."""
    print(f"convlab: error: {one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(EXIT_BAD_INPUT)


def one_line(message: str) -> str:
    """Fold a multi-line library message into one line: option lists become comma-separated."""
    text = without_search_path(str(message)).replace("\r", "")
    # A paragraph break becomes ". " (the sentence's own full stop reused); "..." in a message stays as written.
    text = re.sub(r"\.?\n\s*\n", ". ", text.strip())
    text = re.sub(r":\s*\n\t", ": ", text)
    text = re.sub(r"\n\t", ", ", text)
    # A line break becomes "; ", replacing a lone full stop before it (not the last dot of an ellipsis).
    text = re.sub(r"(?<!\.)\.(?=[ \t]*\n)", "", text)
    text = re.sub(r"\s*\n\s*", "; ", text)
    return re.sub(r"\s+", " ", text)
