"""The documents written into an evidence package: finding.json, capture.json and README.txt."""

from __future__ import annotations

from typing import Any

from mdwatch import __version__
from mdwatch.scheduler.jobs.evidence.package_format import _times
from mdwatch.storage.evidence import PageRef
from mdwatch.storage.records import CaptureRecord, StoredFinding


def _finding_doc(f: StoredFinding, page: PageRef, capture: CaptureRecord, files: dict[str, str | None],
                 proven_by: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """finding.json; ``proven_by`` lists every capture (SHA-256, URL, path in the package) the finding rests on."""
    return {
        "finding_id": f.id,
        "run_id": f.run_id,
        "rule": f.rule,
        "severity": f.severity,
        "article": f.article,
        "message": f.message,
        "evidence": f.evidence,
        "found_at": _times(f.created_at),
        "page": {"id": page.id, "url": f.page_url, "kind": page.kind},
        "capture": {
            "sha256": f.capture_sha256,
            "url": capture.url,
            "final_url": capture.final_url,
            "status": capture.status,
            "method": capture.method,
            "fetched_at": _times(capture.fetched_at),
        },
        "files": files,
        "proven_by": list(proven_by or []),
    }


def _capture_doc(capture: CaptureRecord) -> dict[str, Any]:
    return {
        "sha256": capture.sha256, "url": capture.url, "final_url": capture.final_url, "status": capture.status,
        "headers": capture.headers, "encoding": capture.encoding, "method": capture.method,
        "fetched_at": _times(capture.fetched_at)}


def _readme(scope: str, manifest_note: str) -> str:
    """README.txt; ``scope`` says exactly what was exported (e.g. 一条线索（含其全部问题）：线索 3)."""
    return f"""mdwatch 证据包
======================================

导出内容：{scope}

本证据包由 mdwatch {__version__} 生成，用于保存网络销售医疗器械违规线索的电子证据（线上固证）。

目录结构
--------
manifest.json                 清单：包内每个文件（本清单除外）的路径、大小和 SHA-256 哈希值，
                              以及工具版本、导出时间（UTC 与北京时间）和导出说明。
findings/<编号>/finding.json  一条问题（finding）：规则、级别、法律依据、说明、证据片段、页面网址，
                              抓取时间（UTC 与北京时间）和抓取内容的 SHA-256；proven_by 逐项列出
                              证明该问题的全部抓取内容（SHA-256、网址及其在包内的路径）。
pages/<编号>/page.html        抓取时收到的原始响应内容（未经任何修改），其 SHA-256 与
                              finding.json 中 capture.sha256 相同。
pages/<编号>/capture.json     抓取记录：请求网址、最终网址、HTTP 状态、响应头、抓取时间。
pages/<编号>/screenshot.png   页面全页截图（宽 1280 像素）。
captures/<SHA-256>/           与页面一同保存的相关抓取（如店铺资质页、证照图片）：原始内容
                              content.*（其 SHA-256 即目录名）和抓取记录 capture.json。
warc/*.warc.gz                WARC 国际标准网页归档文件（ISO 28500），含原始请求与响应记录。
{manifest_note}
如何校验
--------
1. 离线校验（推荐）：mdwatch evidence verify 本文件.zip
   全部一致时显示"校验通过"并返回 0；任何文件被改动、缺失或多出时逐行列出该文件并返回 1。
2. 手工校验：解压后对每个文件计算 SHA-256，与 manifest.json 中的值逐一比对，例如
     Linux：  sha256sum pages/12/page.html
     macOS：  shasum -a 256 pages/12/page.html
     Windows：certutil -hashfile pages\\12\\page.html SHA256
   并核对 page.html 的 SHA-256 与 finding.json 中 capture.sha256 一致。
3. 清单本身：导出时显示的 manifest.json 的 SHA-256 应另行记录（如写入交办函或工作记录）；
   校验时 mdwatch 会显示当前清单的 SHA-256，两者一致说明清单未被替换。

WARC 文件可用 warcio、pywb 或 ReplayWeb.page 等通用工具打开回放。
"""
