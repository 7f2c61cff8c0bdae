"""Reference docs generated from the code: ``python -m devtools.docs`` rewrites docs/cli.md,
docs/settings.md and docs/packs.md. ``tests/test_docs.py`` fails when a command, option, setting or
pack is missing from them, so the docs describe the system as built."""

from __future__ import annotations

from pathlib import Path

import click

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    out = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            out.extend(_commands(command.commands[name], f"{path} {name}"))
    return out


def command_paths() -> list[tuple[str, click.Command]]:
    from mdwatch.scheduler.cli import cli

    return _commands(cli, "mdwatch")


def cli_md() -> str:
    lines = ["# 命令行参考（mdwatch CLI）", "",
             "由 `python -m devtools.docs` 从代码生成；`tests/test_docs.py` 检查每条命令和选项都在本文中。", ""]
    for path, command in command_paths():
        if path == "mdwatch":
            continue
        lines += [f"## `{path}`", "", (command.help or "").strip(), ""]
        args = [p for p in command.params if isinstance(p, click.Argument)]
        opts = [p for p in command.params if isinstance(p, click.Option)]
        if args:
            lines.append("参数：" + "、".join(f"`{(a.metavar or a.name or '').upper()}`" for a in args))
            lines.append("")
        if opts:
            lines += ["| 选项 | 说明 |", "|---|---|"]
            for o in opts:
                flags = ", ".join(f"`{f}`" for f in [*o.opts, *o.secondary_opts])
                env = f"（环境变量 `{o.envvar}`）" if isinstance(o.envvar, str) else ""
                lines.append(f"| {flags} | {(o.help or '').strip()}{env} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def settings_md() -> str:
    from mdwatch.scheduler.settings import SETTINGS

    lines = ["# 共享设置（settings）", "",
             "多个命令共用的选项在 `mdwatch/scheduler/settings.py` 中只声明一次；环境变量可代替选项。", "",
             "| 选项 | 环境变量 | 默认值 | 说明 |", "|---|---|---|---|"]
    for s in SETTINGS.values():
        default = "" if s.default is None else f"`{s.default}`"
        lines.append(f"| `{s.flag}` | {f'`{s.envvar}`' if s.envvar else ''} | {default} | {s.help} |")
    return "\n".join(lines) + "\n"


def packs_md() -> str:
    from mdwatch.analyzers.catalogue import rules
    from mdwatch.analyzers.claim_model import PACK_OPTION, pack_claim_model
    from mdwatch.analyzers.packs import load_pack, pack_names

    catalogue = rules()
    lines = ["# 规则包（rule packs）", "",
             "`--packs` 选择启用的规则及其级别；scan、sweep 与 campaign 在同一处应用（页面流水线）。"
             "数据在 `mdwatch/lexicons/packs/*.yaml`。", "",
             f"规则包中写 `{PACK_OPTION}: false` 可关闭声明分类模型的识别结果（证据标注“模型识别，建议人工复核”，"
             "见 `mdwatch/models/README.md`），只保留词表命中；未写时沿用所继承规则包的设置，默认开启。"
             "同时选用多个规则包时，任一规则包开启即开启。", ""]
    for name in pack_names():
        pack = load_pack(name)
        model = "开启" if pack_claim_model(name) else "关闭"
        lines += [f"## `{name}`：{pack.title}", "", f"声明分类模型（`{PACK_OPTION}`）：{model}", "",
                  "| 规则 | 名称 | 级别 |", "|---|---|---|"]
        for rule_id, rule in catalogue.items():
            if rule_id in pack.rules:
                level = pack.severities.get(rule_id, rule.severity)
                mark = "（调整）" if level != rule.severity else ""
                lines.append(f"| `{rule_id}` | {rule.title} | {level}{mark} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


GENERATED = {"cli.md": cli_md, "settings.md": settings_md, "packs.md": packs_md}


def main() -> None:
    for name, render in GENERATED.items():
        (DOCS / name).write_text(render(), encoding="utf-8")
        print(f"wrote docs/{name}")


if __name__ == "__main__":
    main()
