"""``mdwatch model``: train and evaluate the claim classifier (model card: mdwatch/models/README.md).

The work is in ``mdwatch.models.claim_training``, imported when a command runs: scikit-learn is
never imported by ``mdwatch --help`` or by a scan.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from mdwatch.scheduler.settings import option

EXIT_OK, EXIT_USAGE = 0, 2

_DATA_HELP = "标注数据目录（默认：mdwatch/models/data/claims）。"


@click.group(name="model", help="声明分类模型（宣传用语识别）：训练与评估。说明见 mdwatch/models/README.md。")
def model() -> None:
    pass


@model.command(name="train", help="在开发集上训练声明分类模型（交叉验证选定各类阈值，再按格式语料开发集的页面上调），"
               "在留出集上评估，写出模型文件与模型卡数据。结果确定：同样的数据得到同样的模型文件。")
@click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), help=_DATA_HELP)
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="模型文件（默认：随软件包发布的 mdwatch/models/claim_model.npz，并更新同目录 README.md 的数据部分）。")
@click.option("--no-guards", is_flag=True,
              help="阈值只按开发集交叉验证选定；默认再按源码目录中的格式语料开发集（tests/corpus/formats/dev）"
                   "的商品页上调，使模型在其上不新增误报。")
@click.option("--guard-sentences", is_flag=True,
              help="同时按 tests/corpus/sentences.yaml（词表的标注语句）上调阈值：更保守，召回更低。")
@click.option("--page-negatives/--no-page-negatives", default=True, show_default=True,
              help="加入页面普通句：从源码目录中已标注的商品页（格式语料开发集 tests/corpus/formats/dev 与演示站点，"
                   "按 scan 的方式读取）按分析器的切句方式取出不含声明的句子，作为仅用于训练的反例（不进入留出集）。")
@click.option("--svm-c", "svm_c", type=float, default=10.0, show_default=True,
              help="线性 SVM 的正则化参数 C（开发集交叉验证选定，见模型卡）。")
@click.option("--extra", "extra", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="另加的标注语句文件（JSON Lines，格式同标注数据，例如 mdwatch model export-feedback 的输出），"
                   "仅用于训练，不进入留出集；可重复。")
@click.option("--quick", is_flag=True, help="不做留一写作者评估（每位写作者各需另训一次），训练更快；模型卡中该项留空。")
def train_command(data: Path | None, output: Path | None, no_guards: bool, guard_sentences: bool,
                  page_negatives: bool, svm_c: float, extra: tuple[Path, ...], quick: bool) -> int:
    from mdwatch.models.claim_classifier import model_path
    from mdwatch.models.claim_training import (
        Guards,
        Params,
        data_dir,
        data_status,
        format_table,
        train,
        write_card,
    )
    from mdwatch.models.page_negatives import checkout_sources

    folder = data or data_dir()
    status = data_status(folder)
    if not status:
        raise click.UsageError(f"{folder} 中没有标注数据（w1_part01.jsonl 等）。")
    pending = [w for w, done in status.items() if not done]
    if pending:
        click.echo(f"注意：写作者 {'、'.join(pending)} 尚未完成（无 .done 标记），按现有数据训练。", err=True)
    guards = Guards() if no_guards else Guards.of_checkout(with_sentences=guard_sentences)
    if guards.pages is None and guards.sentences is None and not no_guards:
        click.echo("注意：找不到源码目录中的页面语料与标注语句，阈值只按开发集交叉验证选定。", err=True)
    negatives = checkout_sources() if page_negatives else []
    if page_negatives and not negatives:
        click.echo("注意：找不到源码目录中的已标注页面，不加入页面普通句反例。", err=True)
    try:
        report = train(folder, output, params=Params(C=svm_c), guards=guards, leave_one_writer_out=not quick, negatives=negatives,
                       extra=list(extra), progress=lambda msg: click.echo(f"… {msg}", err=True))
    except ValueError as exc:
        raise click.UsageError(f"无法训练：{exc}") from exc
    if report.meta.get("problems"):
        click.echo(f"注意：跳过 {len(report.meta['problems'])} 行不合格式的数据（列在模型卡中）。", err=True)
    click.echo(f"已写出模型：{report.model_path}")
    if output is None or output.resolve() == model_path().resolve():
        card = model_path().with_name("README.md")
        write_card(report.meta, card)
        click.echo(f"已更新模型卡：{card}")
    click.echo("\n".join(format_table(report.meta["heldout"], "留出集（词表 vs 词表+模型）：")))
    return EXIT_OK


@model.command(name="evaluate", help="在留出集上评估声明分类模型：各类别的精确率、召回率、F1，仅词表与词表+模型并列。")
@click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), help=_DATA_HELP)
@click.option("--model", "model_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="模型文件（默认：随软件包发布的模型）。")
@option("json")
def evaluate_command(data: Path | None, model_file: Path | None, as_json: bool) -> int:
    from mdwatch.models.claim_classifier import ClaimClassifier, load_claim_model
    from mdwatch.models.claim_training import evaluate_model, format_table, heldout_sentences

    classifier = ClaimClassifier.load(model_file) if model_file else load_claim_model()
    if classifier is None:
        raise click.UsageError("没有可用的模型文件：请先运行 mdwatch model train。")
    sentences = heldout_sentences(data)
    if not sentences:
        raise click.UsageError("留出集为空：没有标注数据。")
    result = evaluate_model(classifier, sentences)
    result["thresholds"] = dict(classifier.thresholds)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return EXIT_OK
    title = f"留出集 {result['sentences']} 句、{result['claims']} 个声明标签（词表 vs 词表+模型）："
    click.echo("\n".join(format_table(result, title)))
    click.echo("阈值：" + "，".join(f"{k} {classifier.thresholds[k]:.7g}" for k in classifier.classes))
    return EXIT_OK


@model.command(name="export-feedback",
               help="把工作台中已审核（确认违规 / 误报驳回）的声明类问题导出为标注语句（JSON Lines，格式同 "
                    "mdwatch/models/data/claims/*.jsonl）：每条证据所在的句子一行，确认的标为该规则对应的类别，"
                    "驳回的标为无声明（hard_negative）。可用 mdwatch model train --extra 加入训练。")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path), metavar="OUT.jsonl")
@option("db")
@click.option("--since", "since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="只导出该日期（UTC，含当天）以后作出的审核结论，格式 YYYY-MM-DD。")
def export_feedback_command(out: Path, db_url: str | None, since: datetime | None) -> int:
    from mdwatch.models.feedback import ExportStats, feedback_rows
    from mdwatch.storage.reviews import ReviewStore

    stats = ExportStats()
    since_utc = since.replace(tzinfo=UTC) if since is not None else None
    with ReviewStore(db_url) as store:
        rows = [json.dumps(row, ensure_ascii=False) + "\n" for row in feedback_rows(store, since_utc, stats)]
    out.write_text("".join(rows), encoding="utf-8")
    click.echo(f"已导出 {stats.sentences} 句（来自 {stats.reviews} 条声明类审核结论）：{out}")
    for rule, n in sorted(stats.skipped_rules.items()):
        click.echo(f"注意：{rule} 没有对应的模型类别，跳过 {n} 条审核结论。", err=True)
    return EXIT_OK
