"""``mdwatch model``: train and evaluate the claim classifier (model card: mdwatch/models/README.md).

The work is in ``mdwatch.models.claim_training``, imported when a command runs: scikit-learn is
never imported by ``mdwatch --help`` or by a scan.
"""

from __future__ import annotations

import json
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
@click.option("--quick", is_flag=True, help="不做留一写作者评估（每位写作者各需另训一次），训练更快；模型卡中该项留空。")
def train_command(data: Path | None, output: Path | None, no_guards: bool, guard_sentences: bool,
                  quick: bool) -> int:
    from mdwatch.models.claim_classifier import model_path
    from mdwatch.models.claim_training import (
        Guards,
        data_dir,
        data_status,
        format_table,
        train,
        write_card,
    )

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
    try:
        report = train(folder, output, guards=guards, leave_one_writer_out=not quick,
                       progress=lambda msg: click.echo(f"… {msg}", err=True))
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
