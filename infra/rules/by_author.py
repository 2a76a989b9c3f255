"""The author's history and the counters by author, computed once per author over arrays.

Window functions partitioned by author sort every verdict of the period by author and time and
step through them row by row; over millions of verdicts that was most of a backtest's time. Here
the verdicts are grouped by author instead (a hash aggregation, on every core), each author's
times sorted in an array, and every count is arithmetic over sorted arrays:

- the history, when the period is at most the history's 30 days (so every earlier verdict of the
  period is inside the window): the author's items up to a verdict's time are its rank among
  the sorted times, the harmful ones a running sum, the age the distance to the first time;
- a counter `count by author within W where …` at time t is the counted items at or before t
  less those whose time + W is at or before t: both ranks come from one sort of the three
  kinds of instants (entries, exits, the verdicts' own times) packed into integers
  (`time * 4 + kind`, so that at equal times entries and exits sort before the count is read).

Rows at the same time count each other, as a RANGE frame's peers do. The arrays then unfold
(ARRAY JOIN) back into one row per verdict, in the author's original order, with the counts beside
it. Lambdas here never capture another array (ClickHouse would copy it once per element): each
reorders by `arraySort(f, values, keys)`. Only numbers cross the arrays (strings cost a second
or more of CPU each per 10M verdicts there): bits, codes and hashes, see `by_author_sql`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from infra.rules.sql import EVERY, TICKS_PER_S, CounterSQL

HARMFUL = "w_harmful"
"""Per row: 1 if the policy did not approve it (what `author.harmful` counts)."""
HISTORY = ("author_items", "author_harmful", "author_age")
_CODE_SHIFTS = (0, 16, 32, 48)
_CODE_MAX = 65_535


def flags(counters: Sequence[CounterSQL], history: bool) -> list[str]:
    """Per-row columns the arrays need: each counter's `where`, and whether it was harmful."""
    out = [f"toUInt8({c.where}) AS w_{c.name}" for c in counters if c.where != EVERY]
    if history:
        out.append(f"toUInt8(policy_decision != 'approve') AS {HARMFUL}")
    return out


def by_author_sql(
    rows: str,
    carried: Sequence[str],
    counters: Sequence[CounterSQL],
    *,
    history: bool,
    bits: Sequence[str] = (),
    codes: Mapping[str, str] | None = None,
    hashed: Sequence[str] = (),
) -> str:
    """`rows` (a query with `author`, `ts`, the `carried` columns, the `bits` and `flags()`)
    again, one row per verdict with the `carried` columns, the `bits`, `c_<name>` for each
    counter and, if `history`, the author's history (`HISTORY`). `bits`: columns of 0 or 1,
    carried 64 to a number (a hundred rules' worth of them are then two arrays, not a hundred).
    `codes`: string columns → an array of every value they take (SQL, at most 65,535); each
    crosses as its place in that array, all of them packed in one number (a string per verdict
    costs a second of CPU per 10M verdicts through the arrays, and each array more its share),
    and comes back as its place, `k_<name>`. `hashed`: string columns that cross, and come
    back, as their 64-bit hash (the event id: the few examples are found back by it)."""
    codes = codes or {}
    if len(codes) > len(_CODE_SHIFTS):
        raise ValueError(f"at most {len(_CODE_SHIFTS)} coded columns")
    # Every code crosses in one number, 16 bits each (one array instead of one per column).
    places = {c: f"indexOf({values}, {c})" for c, values in codes.items()}
    coded = (
        [
            " + ".join(
                f"bitShiftLeft({place}, {shift})"
                for place, shift in zip(places.values(), _CODE_SHIFTS, strict=False)
            )
            + f" + throwIf(greatest({', '.join(places.values())}, 0) > {_CODE_MAX}, "
            "'a coded column takes too many values') AS k_codes"
        ]
        if codes
        else []
    )
    coded += [f"cityHash64({c}) AS k_{c}" for c in hashed]
    packs = [bits[i : i + 64] for i in range(0, len(bits), 64)]
    # bit k as `b * 2^k`, summed: two operations per bit where a shift of a converted
    # comparison, or-ed in, took four (a second of CPU per 10M verdicts for 68 bits)
    packed = [
        " + ".join(f"({b}) * {1 << k}" if k else f"toUInt64({b})" for k, b in enumerate(pack))
        + f" AS bits{n}"
        for n, pack in enumerate(packs)
    ]
    if packed or coded:
        rows = f"SELECT *, {', '.join([*packed, *coded])} FROM ({rows})"  # noqa: S608
    place = {
        c: f"bitAnd(bitShiftRight(k_codes, {shift}), {_CODE_MAX})"
        for c, shift in zip(codes, _CODE_SHIFTS, strict=False)
    }
    decoded = [f"{place[c]} AS k_{c}" for c in codes]
    decoded += [f"k_{c} AS {c}" for c in hashed]
    carried = [
        *(f"k_{c}" if c in hashed else c for c in carried if c not in codes),
        *(["k_codes"] if codes else []),
        *(f"bits{n}" for n in range(len(packs))),
    ]
    unpacked = [
        f"bitTest(bits{n}, {k}) AS {b}" for n, pack in enumerate(packs) for k, b in enumerate(pack)
    ]
    grouped = ", ".join(
        f"groupArray({c}) AS a_{c}"
        for c in [
            *carried,
            *(f"w_{c.name}" for c in counters if c.where != EVERY),
            *([HARMFUL] if history else []),
        ]
    )
    # p: the original places in time order; st: the times sorted; last: the last of equal times.
    sorted_ = [
        "arraySort(a_ts) AS st",
        "arraySort((i, t) -> t, arrayEnumerate(a_ts), a_ts) AS p",
    ]
    step = ["arrayPushBack(arrayMap(d -> d != 0, arrayPopFront(arrayDifference(st))), 1) AS last"]
    for c in counters:
        # the counted times, as entries (kind 0) and exits W later (kind 1); the reads (kind 2)
        counted = (
            "st"  # every row: no flags to sort and filter by
            if c.where == EVERY
            else f"arrayFilter((x, w) -> w, st, arraySort((w, t) -> t, a_w_{c.name}, a_ts))"
        )
        step.append(
            f"arraySort(arrayConcat(arrayMap(x -> x * 4, {counted}), "
            f"arrayMap(x -> (x + {c.ticks}) * 4 + 1, {counted}), "
            f"arrayMap(x -> x * 4 + 2, st))) AS m_{c.name}"
        )
    counts = [
        f"arrayFilter((n, v) -> v % 4 = 2, arrayCumSum(arrayMap(v -> multiIf(v % 4 = 0, 1, "
        f"v % 4 = 1, -1, 0), m_{c.name})), m_{c.name}) AS s_c_{c.name}"
        for c in counters
    ]
    if history:
        counts += [
            "arrayReverseFill((n, l) -> l, arrayEnumerate(st), last) AS s_author_items",
            "arrayReverseFill((n, l) -> l, arrayCumSum(arraySort((h, t) -> t, "
            f"a_{HARMFUL}, a_ts)), last) AS s_author_harmful",
            "arrayCumSum(arrayDifference(st)) AS s_author_age",
        ]
    computed = [f"c_{c.name}" for c in counters] + (list(HISTORY) if history else [])
    # back in the original order: sorted by the original places
    unfold = [f"a_{c} AS {c}" for c in carried] + [
        f"arraySort((n, i) -> i, s_{name}, p) AS u_{name}" for name in computed
    ]
    out = [*(c for c in carried if not c.startswith("k_")), *decoded, *unpacked]
    out += [f"if(author = '', 0, u_c_{c.name}) AS c_{c.name}" for c in counters]
    if history:
        out += ["u_author_items AS author_items", "u_author_harmful AS author_harmful",
                f"u_author_age / {TICKS_PER_S} AS author_age"]  # fmt: skip
    joined = ["author", *carried, *(f"u_{name}" for name in computed)]
    # One level per step: an alias used in its own SELECT would be expanded in place.
    return f"""
        SELECT author, {", ".join(out)}
        FROM (
            SELECT {", ".join(joined)} FROM (
                SELECT *, {", ".join(counts) or "1 AS none"}
                FROM (
                    SELECT *, {", ".join(step)}
                    FROM (
                        SELECT *, {", ".join(sorted_)}
                        FROM (
                            SELECT author, groupArray(ts) AS a_ts, {grouped}
                            FROM ({rows})
                            GROUP BY author
                        )
                    )
                )
            )
            ARRAY JOIN {", ".join(unfold)}
        )
    """  # noqa: S608 (names from the grammar, literals as parameters: see backtest.py)
