#!/usr/bin/env python3
"""Reference computations for tests/ops/model_filters_test.cc, written from datajuicer-ops.md §5/§6 and
KenLM's documented scoring (not from sluice's code).

  lm PIECES_FILE OUT_ARPA
      builds a trigram ARPA model by counting the (space-separated) pieces of every line of PIECES_FILE:
      absolute discounting, back-off weights from the discounted mass (well formed: every n-gram's prefix
      and suffix is in the model); a vocabulary word seen once is left out so that <unk> is exercised.
  filters ARPA SPECIAL_CHARS_JSON REP_LEN PIECES_FILE
      for each line of PIECES_FILE (the pieces of one text, as spm_encode writes them), prints a JSON object
      with DataJuicer's perplexity, num_words and word_rep_ratio computed from those pieces.
  score ARPA SENTENCES_FILE
      prints kenlm.Model.score(line, bos=True, eos=True) of every line, one repr() per line.
"""
import json
import math
import struct
import sys
from collections import Counter, defaultdict


def f32(x):
    """Rounds a Python float to the nearest float32 (KenLM stores and sums in float)."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def read_arpa(path):
    """{n: {tuple(words): (log10 prob, log10 backoff)}} with float32 values."""
    grams = {}
    order = 0
    with open(path, encoding='utf-8') as f:
        lines = [l.rstrip('\n') for l in f]
    i = 0
    while lines[i].strip() != '\\data\\':
        i += 1
    i += 1
    while lines[i].startswith('ngram '):
        order += 1
        i += 1
    for n in range(1, order + 1):
        while lines[i].strip() != '\\%d-grams:' % n:
            i += 1
        i += 1
        table = {}
        while lines[i].strip():
            parts = lines[i].split()
            prob = f32(float(parts[0]))
            words = tuple(parts[1:1 + n])
            bo = f32(float(parts[1 + n])) if len(parts) > n + 1 else 0.0
            table[words] = (prob, bo)
            i += 1
        grams[n] = table
    if ('<unk>',) not in grams[1]:
        grams[1][('<unk>',)] = (f32(-100.0), 0.0)
    return grams, order


def kenlm_score(grams, order, sentence):
    """log10 p(words </s> | <s>) with standard back-off; float32 arithmetic as KenLM."""
    words = [w.decode('utf-8', 'surrogateescape') for w in sentence.encode('utf-8').split()]
    hist = ['<s>']
    total = 0.0
    for w in words + ['</s>']:
        if (w,) not in grams[1]:
            w = '<unk>'
        ctx = hist[-(order - 1):] if order > 1 else []
        # longest matching n-gram
        for k in range(len(ctx), -1, -1):
            g = tuple(ctx[len(ctx) - k:]) + (w,)
            if g in grams[k + 1]:
                prob = grams[k + 1][g][0]
                matched = k
                break
        # back-offs of the longer contexts, shortest first
        for k in range(matched + 1, len(ctx) + 1):
            c = tuple(ctx[len(ctx) - k:])
            if c in grams[k]:
                prob = f32(prob + grams[k][c][1])
        total = f32(total + prob)
        hist.append(w)
    return total


def build_lm(pieces_file, out_path, order=3, discount=0.5):
    counts = [Counter() for _ in range(order + 1)]
    vocab = Counter()
    sents = []
    with open(pieces_file, encoding='utf-8') as f:
        for line in f:
            ws = line.split()
            vocab.update(ws)
            sents.append(ws)
    keep = {w for w, c in vocab.items() if c > 1}
    for ws in sents:
        toks = ['<s>'] + [w if w in keep else '<unk>' for w in ws] + ['</s>']
        for n in range(1, order + 1):
            for i in range(len(toks) - n + 1):
                counts[n][tuple(toks[i:i + n])] += 1
    total = sum(c for g, c in counts[1].items() if g != ('<s>',))
    probs = {}
    for n in range(1, order + 1):
        ctx_tot = Counter()
        for g, c in counts[n].items():
            ctx_tot[g[:-1]] += c
        for g, c in counts[n].items():
            if n == 1:
                p = -99.0 if g == ('<s>',) else math.log10(c / total)
            else:
                p = math.log10((c - discount) / ctx_tot[g[:-1]])
            probs[g] = p
    # back-off weight of a context h: log10 of the discounted mass times a fixed factor
    ext = defaultdict(int)  # number of distinct extensions of a context
    ext_tot = Counter()     # total count of its extensions
    for n in range(2, order + 1):
        for g, c in counts[n].items():
            ext[g[:-1]] += 1
            ext_tot[g[:-1]] += c
    with open(out_path, 'w', encoding='utf-8') as out:
        out.write('\n\\data\\\n')
        for n in range(1, order + 1):
            out.write('ngram %d=%d\n' % (n, len(counts[n])))
        for n in range(1, order + 1):
            out.write('\n\\%d-grams:\n' % n)
            for g in sorted(counts[n]):
                line = '%.6f\t%s' % (probs[g], ' '.join(g))
                if n < order and g in ext:
                    line += '\t%.6f' % math.log10(0.7 * discount * ext[g] / ext_tot[g])
                out.write(line + '\n')
        out.write('\n\\end\\\n')


def main():
    cmd = sys.argv[1]
    if cmd == 'lm':
        build_lm(sys.argv[2], sys.argv[3])
    elif cmd == 'score':
        grams, order = read_arpa(sys.argv[2])
        with open(sys.argv[3], encoding='utf-8') as f:
            for line in f:
                print(repr(kenlm_score(grams, order, line.rstrip('\n'))))
    elif cmd == 'filters':
        grams, order = read_arpa(sys.argv[2])
        codes = json.load(open(sys.argv[3], encoding='utf-8'))['codepoints']
        special = {chr(int(c, 16)) for c in codes}
        rep_len = int(sys.argv[4])
        strip = ''.join(special)
        with open(sys.argv[5], encoding='utf-8') as f:
            for line in f:
                pieces = line.rstrip('\n').split(' ') if line.strip('\n') else []
                text = ' '.join(pieces)
                logits, length = 0.0, 0
                for l in text.splitlines():
                    logits += kenlm_score(grams, order, l)
                    length += len(l.split()) + 1
                ppl = round(10.0 ** (-logits / length), 1) if length else 0.0
                num_words = len([w for w in (p.strip(strip) for p in pieces) if w])
                words = [w for w in (p.lower().strip(strip) for p in pieces) if w]
                grams_n = [' '.join(words[i:i + rep_len]) for i in range(len(words) - rep_len + 1)]
                if grams_n:
                    freq = Counter(grams_n)
                    rep = sum(c for c in freq.values() if c > 1) / len(grams_n)
                else:
                    rep = 0.0
                print(json.dumps({'perplexity': ppl, 'num_words': num_words, 'word_rep_ratio': rep}))


if __name__ == '__main__':
    main()
