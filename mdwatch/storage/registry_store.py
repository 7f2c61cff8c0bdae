"""Look-ups in the registration database (tables of ``registry_schema``).

``RegistryStore.lookup`` is on the hot path of every scanned page, so single look-ups bypass the
ORM: two prepared statements on a raw DBAPI cursor of a connection kept open for the store's life,
plus an optional LRU cache (``cache_size``; 0 disables it). ``lookup_many`` answers a whole page's
numbers with one query per table.

A number found in ``registrations`` (the CSV import) is answered from that row, with brand names
and missing fields filled from UDID; a number only in ``udi_devices`` is aggregated from its device
records (most common product name and registrant, every model/spec and brand, the category code)
and its class is inferred from the number itself. UDID has no status or expiry: such records say
``status="valid"`` and ``valid_until=None`` with ``source="udid"``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.engine import Connection

from mdwatch.records import Registration

from .database import open_engine
from .registry_schema import (
    class_from_number,
    create_registry_schema,
    normalize_registration_no,
    registrations,
    registry_imports,
    registry_numbers,
    udi_devices,
    upsert,
)

# storage returns the one shared record type (mdwatch.records); the old name stays for callers
RegistrationRecord = Registration


@dataclass(frozen=True, slots=True)
class RegistryStats:
    registrations: int = 0
    udi_devices: int = 0  # rows (one per device record and registration number)
    udi_records: int = 0  # distinct deviceRecordKey
    distinct_numbers: int = 0  # over both tables
    last_import_at: datetime | None = None
    last_import_path: str | None = None
    by_status: dict[str, int] = field(default_factory=dict)  # registrations table only
    by_class: dict[str, int] = field(default_factory=dict)  # "1" | "2" | "3" | "unknown", per distinct number

    def description_zh(self) -> str:
        if not (self.registrations or self.udi_devices):
            return "未加载注册证数据库。"
        when = self.last_import_at.strftime("%Y-%m-%d %H:%M UTC") if self.last_import_at else "未知时间"
        return (
            f"注册证数据库：注册证 {self.registrations} 条，UDI 器械记录 {self.udi_records} 条，"
            f"共 {self.distinct_numbers} 个注册证/备案编号；最近导入 {when}（{self.last_import_path or '未知来源'}）。"
        )


_REG_COLS = (
    "registration_no, product_name, registrant, manufacturer, model_spec, structure, scope, "
    "device_class, category_code, approved_on, valid_until, status, source"
)
_UDI_COLS = "registration_no, product_name, registrant, model_spec, brand, category_code, old_category_code"


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)  # deterministic tie-break


def _merge(number: str, reg: Sequence[Any] | None, udi: Sequence[Sequence[Any]]) -> RegistrationRecord | None:
    """One record from a ``registrations`` row (or None) and the ``udi_devices`` rows of a number."""
    if reg is None and not udi:
        return None
    specs = tuple(sorted({str(r[3]) for r in udi if r[3]}))
    brands = tuple(sorted({str(r[4]) for r in udi if r[4]}))
    udi_name = _most_common(str(r[1]) for r in udi)
    udi_registrant = _most_common(str(r[2]) for r in udi)
    udi_category = _most_common(str(r[5]) for r in udi if r[5] and r[5] not in ("0", "00")) or _most_common(
        str(r[6]) for r in udi
    )
    if reg is not None:
        model_spec = str(reg[4] or "")
        return RegistrationRecord(
            number=number,
            product_name=str(reg[1] or "") or udi_name,
            registrant=str(reg[2] or "") or udi_registrant,
            manufacturer=str(reg[3] or ""),
            model_specs=(model_spec,) if model_spec else specs,
            structure=str(reg[5] or ""),
            scope=str(reg[6] or ""),
            device_class=int(reg[7]) if reg[7] is not None else class_from_number(number),
            category_code=str(reg[8] or "") or udi_category,
            approved_on=_as_date(reg[9]),
            valid_until=_as_date(reg[10]),
            status=str(reg[11] or "valid"),
            brand_names=brands,
            source=str(reg[12] or "csv"),
        )
    return RegistrationRecord(
        number=number,
        product_name=udi_name,
        registrant=udi_registrant,
        model_specs=specs,
        device_class=class_from_number(number),
        category_code=udi_category,
        brand_names=brands,
        source="udid",
    )


_SUM_COLS = (
    "registration_no, product_name, registrant, manufacturer, model_specs, structure, scope, "
    "device_class, category_code, approved_on, valid_until, status, brand_names, source"
)


def _record_from_summary(row: Sequence[Any]) -> RegistrationRecord:
    return RegistrationRecord(
        number=str(row[0]),
        product_name=str(row[1]),
        registrant=str(row[2]),
        manufacturer=str(row[3]),
        model_specs=tuple(json.loads(row[4])) if row[4] and row[4] != "[]" else (),
        structure=str(row[5]),
        scope=str(row[6]),
        device_class=int(row[7]) if row[7] is not None else None,
        category_code=str(row[8]),
        approved_on=_as_date(row[9]),
        valid_until=_as_date(row[10]),
        status=str(row[11]),
        brand_names=tuple(json.loads(row[12])) if row[12] and row[12] != "[]" else (),
        source=str(row[13]),
    )


def refresh_summaries(conn: Connection, numbers: Sequence[str]) -> None:
    """Recompute the ``registry_numbers`` rows of ``numbers`` from registrations and udi_devices."""
    r, u = registrations.c, udi_devices.c
    reg_cols = [r[c.strip()] for c in _REG_COLS.split(",")]
    udi_cols = [u[c.strip()] for c in _UDI_COLS.split(",")]
    for i in range(0, len(numbers), 500):
        part = list(numbers[i : i + 500])
        regs = {
            row[0]: tuple(row) for row in conn.execute(select(*reg_cols).where(r.registration_no.in_(part)))
        }
        udis: dict[str, list[Sequence[Any]]] = {}
        for row in conn.execute(select(*udi_cols).where(u.registration_no.in_(part))):
            udis.setdefault(row[0], []).append(tuple(row))
        rows: list[dict[str, Any]] = []
        gone: list[str] = []
        for number in part:
            devices = udis.get(number, [])
            rec = _merge(number, regs.get(number), devices)
            if rec is None:
                gone.append(number)
                continue
            rows.append(
                {
                    "registration_no": rec.number,
                    "product_name": rec.product_name,
                    "registrant": rec.registrant,
                    "manufacturer": rec.manufacturer,
                    "model_specs": json.dumps(list(rec.model_specs), ensure_ascii=False),
                    "structure": rec.structure,
                    "scope": rec.scope,
                    "device_class": rec.device_class,
                    "category_code": rec.category_code,
                    "approved_on": rec.approved_on,
                    "valid_until": rec.valid_until,
                    "status": rec.status,
                    "brand_names": json.dumps(list(rec.brand_names), ensure_ascii=False),
                    "source": rec.source,
                    "udi_count": len(devices),
                }
            )
        if gone:
            conn.execute(delete(registry_numbers).where(registry_numbers.c.registration_no.in_(gone)))
        upsert(conn, registry_numbers, rows, ("registration_no",))


class RegistryStore:
    """Read side of the registration database. Not for use across processes; thread-safe via a lock."""

    def __init__(self, engine: Engine, *, cache_size: int = 65536, owns_engine: bool = False) -> None:
        self.engine = engine
        self._owns_engine = owns_engine
        create_registry_schema(engine)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, RegistrationRecord | None] = OrderedDict()
        self._cache_size = cache_size
        self._pooled: Any = None
        self._dbapi: Any = None
        self._cursor: Any = None
        self._prev_autocommit: bool | None = None
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._q_sum = f"SELECT {_SUM_COLS} FROM registry_numbers WHERE registration_no = {mark}"

    @classmethod
    def open(cls, url: str | Engine, *, cache_size: int = 65536) -> RegistryStore:
        if isinstance(url, Engine):
            return cls(url, cache_size=cache_size)
        return cls(open_engine(url), cache_size=cache_size, owns_engine=True)

    # connection --------------------------------------------------------------------------------
    def _raw_cursor(self) -> Any:
        if self._cursor is None:
            self._pooled = self.engine.raw_connection()
            self._dbapi = self._pooled.driver_connection
            if self.engine.dialect.name == "postgresql":
                # Autocommit: no transaction left idle between look-ups (it would block DDL).
                self._pooled.rollback()
                self._prev_autocommit = bool(self._dbapi.autocommit)
                self._dbapi.autocommit = True
            self._cursor = self._dbapi.cursor()
        return self._cursor

    def close(self) -> None:
        with self._lock:
            if self._cursor is not None:
                self._cursor.close()
                self._cursor = None
            if self._pooled is not None:
                if self._prev_autocommit is not None:
                    self._dbapi.autocommit = self._prev_autocommit
                self._pooled.close()
                self._pooled = None
                self._dbapi = None
            self._cache.clear()
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clear_cache(self) -> None:
        """Forget cached answers (call after an import into the same database)."""
        with self._lock:
            self._cache.clear()

    # look-ups ----------------------------------------------------------------------------------
    def lookup(self, number: str) -> RegistrationRecord | None:
        """The record of one registration / filing number (normalised first), or None."""
        key = normalize_registration_no(number)
        if not key:
            return None
        with self._lock:
            if self._cache_size > 0 and key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            cur = self._raw_cursor()
            cur.execute(self._q_sum, (key,))
            row = cur.fetchone()
            record = _record_from_summary(row) if row is not None else None
            if self._cache_size > 0:
                self._cache[key] = record
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return record

    def lookup_many(self, numbers: Iterable[str]) -> dict[str, RegistrationRecord]:
        """Records of the numbers found, keyed by the number as given (one query per table)."""
        wanted: dict[str, list[str]] = {}
        for n in numbers:
            key = normalize_registration_no(n)
            if key:
                wanted.setdefault(key, []).append(n)
        if not wanted:
            return {}
        keys = list(wanted)
        sc = registry_numbers.c
        cols = [sc[c.strip()] for c in _SUM_COLS.split(",")]
        found: dict[str, RegistrationRecord] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 900):
                for row in conn.execute(select(*cols).where(sc.registration_no.in_(keys[i : i + 900]))):
                    found[row[0]] = _record_from_summary(tuple(row))
        out: dict[str, RegistrationRecord] = {}
        for key, originals in wanted.items():
            if key in found:
                for original in originals:
                    out[original] = found[key]
        return out

    def rebuild_summaries(self) -> int:
        """Recompute every ``registry_numbers`` row (after a manual edit of the source tables)."""
        r, u = registrations.c, udi_devices.c
        with self.engine.begin() as conn:
            numbers = {str(x) for (x,) in conn.execute(select(r.registration_no))}
            numbers.update(str(x) for (x,) in conn.execute(select(u.registration_no).distinct()))
            numbers.update(str(x) for (x,) in conn.execute(select(registry_numbers.c.registration_no)))
            ordered = sorted(numbers)
            refresh_summaries(conn, ordered)
        self.clear_cache()
        return len(ordered)

    # overview ----------------------------------------------------------------------------------
    def is_loaded(self) -> bool:
        with self.engine.connect() as conn:
            for table in (registrations, udi_devices):
                if conn.execute(select(table.c.id).limit(1)).first() is not None:
                    return True
        return False

    def stats(self) -> RegistryStats:
        r, u, i = registrations.c, udi_devices.c, registry_imports.c
        with self.engine.connect() as conn:
            n_reg = conn.execute(select(func.count()).select_from(registrations)).scalar_one()
            n_udi = conn.execute(select(func.count()).select_from(udi_devices)).scalar_one()
            n_keys = conn.execute(select(func.count(func.distinct(u.device_record_key)))).scalar_one()
            by_status = {
                str(s): int(n) for s, n in conn.execute(select(r.status, func.count()).group_by(r.status))
            }
            n_numbers = conn.execute(select(func.count()).select_from(registry_numbers)).scalar_one()
            classes: Counter[str] = Counter()
            for cls, cnt in conn.execute(
                select(registry_numbers.c.device_class, func.count()).group_by(
                    registry_numbers.c.device_class
                )
            ):
                classes[str(cls) if cls is not None else "unknown"] += int(cnt)
            last = conn.execute(
                select(i.finished_at, i.path)
                .where(i.finished_at.is_not(None), i.status != "failed")
                .order_by(i.finished_at.desc(), i.id.desc())
                .limit(1)
            ).first()
        return RegistryStats(
            registrations=int(n_reg),
            udi_devices=int(n_udi),
            udi_records=int(n_keys),
            distinct_numbers=int(n_numbers),
            last_import_at=last[0] if last else None,
            last_import_path=last[1] if last else None,
            by_status=by_status,
            by_class=dict(classes),
        )


__all__ = ["RegistrationRecord", "RegistryStats", "RegistryStore"]
