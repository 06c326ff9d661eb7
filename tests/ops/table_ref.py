# Reference for tests/ops/table_mapper_test.cc: DataJuicer's extract_tables_from_html_mapper logic run with
# BeautifulSoup 4.11's html.parser (Debian 12's python3-bs4), printed as C++ initializers. Not run by the
# tests. Cases marked "differs" in the test are where html.parser's tree and the HTML5 tree sluice builds differ.
import json
from bs4 import BeautifulSoup

CASES = [
    "<html><body>New testCase - No tables here!</body></html>",
    "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Alice</td><td>30</td></tr></table>"
    "<p>x</p><table><tbody><tr><td> a\n b </td></tr></tbody></table>",
    "<table class=\"t\" id='x'><tr><td>1 &amp; 2</td><td>&lt;b&gt;</td><td>caf&eacute;&nbsp;</td></tr></table>",
    "<table><tr><td>outer<table><tr><td>inner</td></tr></table></td></tr></table>",
    "<table><tr><td>  <b>bold</b>  <i> it </i> </td><td></td></tr><tr></tr></table><table></table>",
    "<table><thead><tr><th>H</th><td>d</td></tr></thead><tr><td>v<!-- c --></td></tr></table>",
    "<TABLE BORDER=1><TR><TD>Up</TD></TR></TABLE>",
    "<table><tr><td>a<br>b</td><td><img src=\"i.png\" alt='q\"'></td></tr></table>",
]

def extract(html, retain, header):
    soup = BeautifulSoup(html, "html.parser")
    tables = soup.find_all("table")
    if not tables:
        return []
    if retain:
        return [str(t) for t in tables]
    out = []
    for t in tables:
        rows = []
        for r in t.find_all("tr"):
            if not header and r.find("th", recursive=False) is not None:
                continue
            d = [c.get_text(strip=True) for c in r.find_all(["td", "th"], recursive=False)]
            if d:
                rows.append(d)
        if rows:
            out.append(rows)
    return out

for c in CASES:
    r = [json.dumps(extract(c, *m), ensure_ascii=False) for m in [(False, True), (False, False), (True, True)]]
    print("    {%s,\n     %s,\n     %s,\n     %s}," % (json.dumps(c, ensure_ascii=False), *[json.dumps(x, ensure_ascii=False) for x in r]))
