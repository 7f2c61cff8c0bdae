"""Reviewers' decisions as training sentences (``mdwatch model export-feedback``, ``train --extra``),
on a real SQLite store written through the storage API."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from mdwatch.analyzers.claim_model import DETECTOR, MODEL_NOTE
from mdwatch.storage.records import CaptureRecord, FindingRecord, PageRecord, RunRecord
from mdwatch.storage.reviews import ReviewStore
from mdwatch.storage.store import Store

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SCHEMA = {"id", "text", "labels", "hard_negative", "context", "product", "source"}


def _page(url: str, title: str, *findings: FindingRecord) -> PageRecord:
    body = f"<html><title>{title}</title></html>".encode()
    capture = CaptureRecord(url=url, final_url=url, status=200, headers={}, body=body,
                            sha256=hashlib.sha256(body).hexdigest(), fetched_at=T0)
    return PageRecord(capture=capture, url=url, kind="product", title=title, findings=list(findings))


def _lexicon_evidence(text: str, term: str) -> dict[str, object]:
    from mdwatch.analyzers.normalize import snippet

    at = text.index(term)
    return {"source": "text", "snippet": snippet(text, at, at + len(term)), "match": term, "detail": {"term": term}}


_PAGE_TEXT = ("本品采用医用级硅胶材料，贴合皮肤不闷热，清洗后可重复使用，出门旅行随身携带也很方便。"
              "这款是全网销量第一的护膝，戴上就能感觉到关节轻松了很多。适合久坐的上班族和爱运动的年轻人。")


def _seed(db_url: str) -> dict[str, int]:
    absolute = FindingRecord("CLAIM_ABSOLUTE", "medium", "广告法第九条", "使用绝对化用语",
                             [_lexicon_evidence(_PAGE_TEXT, "全网销量第一")])
    model_sentence = "很多城里的顾客买回去是给父母用的。"
    endorsement = FindingRecord("CLAIM_ENDORSEMENT", "medium", "广告法第十六条", f"利用推荐、证明（{MODEL_NOTE}）", [
        {"source": "text", "snippet": model_sentence, "match": model_sentence,
         "detail": {"detector": DETECTOR, "class": "endorsement", "probability": "0.999", "note": MODEL_NOTE}},
        {"source": "ocr", "snippet": "老专家都说好", "match": "老专家都说好", "image_url": "http://127.0.0.1/a.png",
         "detail": {"detector": DETECTOR, "class": "endorsement", "probability": "0.990", "note": MODEL_NOTE}},
    ])
    scope = FindingRecord("CLAIM_SCOPE_EXCEEDED", "high", "条例", "超出注册范围宣传",
                          [{"source": "text", "snippet": "可治疗关节炎", "match": "治疗关节炎"}])
    regno = FindingRecord("PRODUCT_REGNO_MISSING", "high", "办法", "未展示注册证编号", [])
    run = RunRecord(kind="scan", target="http://127.0.0.1/", started_at=T0, finished_at=T0 + timedelta(seconds=5),
                    pages=[_page("http://127.0.0.1/p1.html", "医用硅胶护膝", absolute, regno),
                           _page("http://127.0.0.1/p2.html", "艾灸盒", endorsement, scope)])
    with Store.open(db_url) as store:
        run_id = store.save_run(run)
        ids = {f.rule: f.id for f in store.findings(run_id)}
    with ReviewStore(db_url) as reviews:
        reviews.decide(ids["CLAIM_ABSOLUTE"], "confirmed", "绝对化用语属实", "张三", at=T0 + timedelta(days=1))
        reviews.decide(ids["CLAIM_ENDORSEMENT"], "dismissed", "普通叙述，不是推荐", "李四", at=T0 + timedelta(days=3))
        reviews.decide(ids["CLAIM_SCOPE_EXCEEDED"], "confirmed", "超范围", "李四", at=T0 + timedelta(days=3))
        reviews.decide(ids["PRODUCT_REGNO_MISSING"], "confirmed", "确实没有", "张三", at=T0 + timedelta(days=3))
    return ids


def _export(args: list[str]) -> tuple[int, str, str]:
    from mdwatch.scheduler.cli import cli

    result = CliRunner().invoke(cli, ["model", "export-feedback", *args])
    return result.exit_code, result.stdout, result.stderr


def test_export_feedback_writes_the_training_schema(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    ids = _seed(db_url)
    out = tmp_path / "feedback.jsonl"
    code, stdout, stderr = _export([str(out), "--db", db_url])
    assert code == 0, stdout + stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(set(r) == SCHEMA for r in rows)
    by_text = {r["text"]: r for r in rows}
    # a confirmed lexicon finding: the sentence around the matched term, labelled with its class
    confirmed = by_text["这款是全网销量第一的护膝，戴上就能感觉到关节轻松了很多。"]
    assert confirmed["labels"] == ["absolute"] and confirmed["hard_negative"] is False
    assert confirmed["source"] == f"review:{ids['CLAIM_ABSOLUTE']}:张三"
    assert confirmed["product"] == "医用硅胶护膝" and confirmed["context"] == "listing"
    # a dismissed model finding: each evidence sentence a hard negative, OCR text marked as such
    plain, image = by_text["很多城里的顾客买回去是给父母用的。"], by_text["老专家都说好"]
    assert plain["labels"] == [] and plain["hard_negative"] is True and image["context"] == "detail-image text"
    assert plain["source"] == f"review:{ids['CLAIM_ENDORSEMENT']}:李四"
    assert len(rows) == 3  # CLAIM_SCOPE_EXCEEDED has no model class; non-claim rules are not sentences
    assert "CLAIM_SCOPE_EXCEEDED" in stderr

    # --since: decisions on or after that day only
    later = tmp_path / "later.jsonl"
    code, stdout, stderr = _export([str(later), "--db", db_url, "--since", "2026-12-03"])
    assert code == 0, stdout + stderr
    assert {json.loads(line)["text"] for line in later.read_text(encoding="utf-8").splitlines()} == {
        "很多城里的顾客买回去是给父母用的。", "老专家都说好"}

    # the export loads as training data (never held out: writer "extra", its own CV group)
    from mdwatch.models.claim_training import EXTRA_WRITER, load_extra

    problems: list[str] = []
    extra = load_extra([out], problems)
    assert problems == [] and len(extra) == 3
    assert all(s.writer == EXTRA_WRITER and s.group == "extra:feedback.jsonl" for s in extra)


def test_evidence_sentence_cuts_the_snippet_like_the_analyzer() -> None:
    from mdwatch.models.feedback import evidence_sentence

    text = "第一句话很普通。" * 5 + "我们保证三天见效，无效退款！" + "后面还有别的话。" * 5
    ev = _lexicon_evidence(text, "保证三天见效")
    assert str(ev["snippet"]).startswith("…")
    assert evidence_sentence(ev) == "我们保证三天见效，无效退款！"
    assert evidence_sentence({"snippet": "x", "match": "整句就是证据。", "detail": {"detector": DETECTOR}}) == "整句就是证据。"
