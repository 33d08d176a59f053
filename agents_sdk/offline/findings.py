"""What an offline check says, line by line: the record both verifiers fill and the CLI prints.

`verify_bundle` and `verify_report` each return a subclass of `Findings`; it adds what
its document proves and its own one-sentence `verdict()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Findings:
    """The lines of a check, in order, and the located problems among them."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        """Whether a pinned key vouches for what was checked (each verifier says how)."""
        raise NotImplementedError

    @property
    def ok(self) -> bool:
        """No problem was found, and a pinned key vouches for what was checked."""
        return not self.problems and self.trusted

    def say(self, line: str) -> None:
        self.lines.append(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.lines.append("PROBLEM: " + line)

    def verdict(self) -> str:
        """One sentence for the end of the check's output."""
        raise NotImplementedError
