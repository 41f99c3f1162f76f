#!/usr/bin/env python3
"""promcheck.py: a strict checker of the Prometheus text exposition format
(version 0.0.4), for tests/e2e/test_observability.sh. promtool (Debian's
prometheus package) runs too when it is installed; this one runs always.

  promcheck.py FILE   exit 0 when FILE is well formed, else 1 with reasons

Checks: every line is a # HELP, a # TYPE or a sample of the grammar;
every family has HELP and TYPE before its first sample and its samples
are contiguous; sample names belong to their family's type (counter
names end in _total, histogram samples are _bucket with le, _sum and
_count); histogram buckets are cumulative in increasing le, end at
le="+Inf", and +Inf equals _count; label values are properly escaped;
the text ends with a newline.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(
    r"^(%s)(\{(?:%s(?:,%s)*)?,?\})? (\S+)(?: (-?\d+))?$" % (NAME, LABEL, LABEL))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def value(v):
    if v in ("+Inf", "Inf"):
        return math.inf
    if v == "-Inf":
        return -math.inf
    if v == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", v):
        raise ValueError(v)
    return float(v)


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def check(text):
    errs = []
    if not text.endswith("\n"):
        errs.append("the text does not end with a newline")
    helps, types, done, hist = {}, {}, set(), {}
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    errs.append("%s: malformed %r" % (where, line))
                continue
            kind, name, rest = m.groups()
            if name in done or name == current:
                errs.append("%s: %s %s after its samples" % (where, kind, name))
            table = helps if kind == "HELP" else types
            if name in table:
                errs.append("%s: second %s for %s" % (where, kind, name))
            if kind == "TYPE" and rest not in ("counter", "gauge", "histogram", "summary",
                                               "untyped"):
                errs.append("%s: unknown type %r" % (where, rest))
            table[name] = rest
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append("%s: not a sample line: %r" % (where, line))
            continue
        name, labels, v = m.group(1), m.group(2) or "", m.group(3)
        try:
            val = value(v)
        except ValueError:
            errs.append("%s: bad value %r" % (where, v))
            continue
        fam = family_of(name, types)
        if fam not in helps or fam not in types:
            errs.append("%s: %s has no # HELP and # TYPE before its samples" % (where, fam))
            continue
        if fam != current:
            if fam in done:
                errs.append("%s: samples of %s are not contiguous" % (where, fam))
            if current:
                done.add(current)
            current = fam
        lab = dict(LABEL_RE.findall(labels))
        t = types[fam]
        if t == "counter" and (not name.endswith("_total") or val < 0):
            errs.append("%s: counter sample %s must end in _total and be >= 0" % (where, name))
        if t == "histogram":
            h = hist.setdefault((fam, tuple(sorted((k, x) for k, x in lab.items() if k != "le"))),
                                {"buckets": [], "sum": None, "count": None})
            if name == fam + "_bucket":
                if "le" not in lab:
                    errs.append("%s: bucket without le" % where)
                else:
                    h["buckets"].append((value(lab["le"]), val))
            elif name == fam + "_sum":
                h["sum"] = val
            elif name == fam + "_count":
                h["count"] = val
            else:
                errs.append("%s: %s is not a histogram sample name" % (where, name))
    for (fam, _), h in hist.items():
        b = h["buckets"]
        if not b or b[-1][0] != math.inf:
            errs.append("%s: buckets do not end at le=\"+Inf\"" % fam)
        if any(b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
            errs.append("%s: le not increasing" % fam)
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            errs.append("%s: buckets not cumulative" % fam)
        if h["sum"] is None or h["count"] is None:
            errs.append("%s: no _sum or _count" % fam)
        elif b and b[-1][1] != h["count"]:
            errs.append("%s: +Inf bucket %s != _count %s" % (fam, b[-1][1], h["count"]))
    for name in types:
        if name not in helps:
            errs.append("%s: TYPE without HELP" % name)
    return errs


if __name__ == "__main__":
    errs = check(open(sys.argv[1]).read())
    for e in errs:
        print("promcheck: " + e, file=sys.stderr)
    sys.exit(1 if errs else 0)
