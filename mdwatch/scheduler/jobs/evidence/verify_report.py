"""The result of verifying an evidence package: one named problem per bad file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PROBLEM_LABELS = {
    "changed": "已改动", "missing": "缺失", "extra": "多出", "unreadable": "无法读取",
    "capture_mismatch": "与抓取哈希不符", "manifest": "清单无效", "unsafe_path": "路径越界",
    "duplicate": "重名", "encrypted": "已加密", "compression": "压缩方法不支持", "symlink": "符号链接",
    "signature": "签名无效", "timestamp": "时间戳无效",
}  # fmt: skip
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(name: str, limit: int = 200) -> str:
    """A member name safe for one output line: control characters escaped, length capped."""
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: str
    problem: str  # a key of PROBLEM_LABELS
    detail: str  # Chinese

    def line(self) -> str:
        label = PROBLEM_LABELS.get(self.problem, self.problem)
        return f"{label}：{_printable(self.path)}（{_printable(self.detail, 400)}）"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    path: Path
    checked: int
    problems: list[FileProblem]
    manifest_sha256: str | None
    tool_version: str | None
    exported_at: str | None
    # What the seal says, Chinese lines for the verify output: the TSA and its time (Beijing time), the
    # Ed25519 key and "本机时间，未经可信时间戳", or that the package has no seal at all.
    seal: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest_sha256 is not None
