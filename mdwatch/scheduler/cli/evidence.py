"""``mdwatch evidence …``: export an evidence package (固证) and verify one offline.

What to export is always named by its kind — ``--finding N``, ``--lead N``, ``--run N`` or
``--campaign NAME`` — so a finding cannot be taken for a lead; a bare number is a usage error.
Both commands append to the chain of custody (保管链) of the database.
"""

from __future__ import annotations

import click

from mdwatch.scheduler.params import LATEST, RunRef
from mdwatch.scheduler.settings import option

USAGE = ("用法：mdwatch evidence export --finding N | --lead N | --run N | --campaign 名称 OUT.zip|OUT.wacz"
         "（四者选一，编号须注明是问题、线索还是运行）")


@click.group(help="证据（固证）：导出证据包、离线校验；每次导出和校验都记入保管链。")
def evidence() -> None:
    pass


def _one_target(finding_id: int | None, lead_id: int | None, run_id: int | str | None, campaign: str | None) -> None:
    given = [v for v in (finding_id, lead_id, run_id, campaign) if v is not None]
    if len(given) != 1:
        raise click.UsageError(USAGE if not given else "只能选择 --finding、--lead、--run、--campaign 中的一个。")


def _out_path(args: tuple[str, ...]) -> str:
    if len(args) == 1:
        return args[0]
    if len(args) == 2 and args[0].isdigit():
        raise click.UsageError(f"编号 {args[0]} 未注明类型：请用 --finding {args[0]}（问题）、--lead {args[0]}（线索）"
                               f"或 --run {args[0]}（运行）。")
    raise click.UsageError(USAGE)


@evidence.command(name="export", help="导出证据包 ZIP（OUT.wacz 时为可用 ReplayWeb.page 打开的 WACZ 网页归档）：一条问题（--finding）、一条线索及其全部问题（--lead）、"
                  "一次运行（--run）或一个监测任务（--campaign）的原始页面、相关抓取、截图、WARC 和哈希清单。")
@click.argument("args", nargs=-1, metavar="OUT.zip")
@click.option("--finding", "finding_id", type=int, metavar="N", help="导出一条问题（finding）。")
@click.option("--lead", "lead_id", type=int, metavar="N", help="导出一条线索及其全部问题和所依据的抓取。")
@click.option("--run", "run_id", type=RunRef(), metavar="N", help="导出一次运行（扫描、巡查）的全部问题（latest：最近一次）。")
@click.option("--sweep", "sweep_id", type=int, hidden=True)  # the former name of --run
@click.option("--campaign", "campaign", metavar="NAME", help="导出一个监测任务全部运行的全部问题。")
@option("db")
@click.option("--no-screenshot", is_flag=True, help="没有已存截图时不在导出时截图。")
@option("operator")
@option("tsa")
def evidence_export(args: tuple[str, ...], finding_id: int | None, lead_id: int | None, run_id: int | str | None,
                    sweep_id: int | None, campaign: str | None, db_url: str | None, no_screenshot: bool,
                    operator: str | None, tsa_url: str | None) -> int:
    from mdwatch.scheduler.jobs.evidence import export_command

    if sweep_id is not None:
        if run_id is not None:
            raise click.UsageError("只能选择 --finding、--lead、--run、--campaign 中的一个。")
        run_id = sweep_id
    out = _out_path(args)
    _one_target(finding_id, lead_id, run_id, campaign)
    if run_id == LATEST:
        from mdwatch.scheduler.jobs.runs import RunsError, latest_run_id

        try:
            run_id = latest_run_id(db_url)
        except RunsError as exc:
            raise click.UsageError(str(exc)) from exc
    run_number = None if run_id is None else int(run_id)
    if out.lower().endswith(".wacz"):  # a web archive that opens without mdwatch
        from mdwatch.scheduler.jobs.evidence.other_formats import wacz_command
        from mdwatch.scheduler.jobs.evidence.selection import Target

        kind, value = next((k, v) for k, v in (("finding", finding_id), ("lead", lead_id), ("run", run_number),
                                               ("campaign", campaign)) if v is not None)
        return wacz_command(db_url, out, Target(kind, str(value)), operator)
    return export_command(db_url, out, finding_id=finding_id, run_id=run_number, lead_id=lead_id, campaign=campaign,
                          screenshots=not no_screenshot, operator=operator, tsa_url=tsa_url)


@evidence.command(name="verify", help="离线校验证据包：重新计算每个文件的 SHA-256，列出被改动、缺失或多出的文件；"
                  "校验结果记入保管链。")
@click.argument("zip_path", type=click.Path(exists=True, dir_okay=False), metavar="OUT.zip")
@option("db")
@option("operator")
@click.option("--tsa-cert", type=click.Path(exists=True, dir_okay=False), metavar="CERT.pem",
              help="可信时间戳服务（TSA）的证书：按它核验时间戳的签名（不给出时按时间戳自带的证书核验其完整性）。")
def evidence_verify(zip_path: str, db_url: str | None, operator: str | None, tsa_cert: str | None = None) -> int:
    from mdwatch.scheduler.jobs.evidence import verify_command

    return verify_command(zip_path, db_url, operator, tsa_cert=tsa_cert)


@evidence.command(name="report", help="生成一条问题或一条线索的取证报告（PDF，中文，每条问题一页为主）：网址、平台、店铺、规则与法律依据、"
                  "高亮的证据、运行中保存的截图、抓取时间（北京时间）、各文件 SHA-256、工具版本、操作人、时间戳状态。")
@click.option("--finding", "finding_id", type=int, metavar="N", help="一条问题（finding）的报告。")
@click.option("--lead", "lead_id", type=int, metavar="N", help="一条线索的报告：其每条问题一页。")
@click.argument("out", metavar="OUT.pdf")
@option("db")
@option("operator")
def evidence_report(finding_id: int | None, lead_id: int | None, out: str, db_url: str | None,
                    operator: str | None) -> int:
    from mdwatch.scheduler.jobs.evidence.other_formats import report_command
    from mdwatch.scheduler.jobs.evidence.selection import Target

    if (finding_id is None) == (lead_id is None):
        raise click.UsageError("用法：mdwatch evidence report --finding N | --lead N OUT.pdf（二者选一）")
    target = Target("finding", str(finding_id)) if finding_id is not None else Target("lead", str(lead_id))
    return report_command(db_url, target, out, operator)
