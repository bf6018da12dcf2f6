#!/usr/bin/env python3
"""Check that an attest HTML report is self-contained and well formed.

Usage: check_html.py FILE

Parses the file with html.parser and prints JSON: the sections (ids), whether every
non-void element was closed in order, the external resources it would load (src, link
href, url() in style), the scripts, and the visible text's length. Exits 1 on a
structural error.
"""

import html.parser
import json
import re
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
        "path", "rect", "circle", "line", "polyline", "polygon", "ellipse", "stop", "use"}


class Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.sections = []
        self.external = []
        self.scripts = 0
        self.text = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "section" and "id" in a:
            self.sections.append(a["id"])
        for key in ("src", "srcset", "poster", "data"):
            if key in a:
                self.external.append(f"{tag} {key}={a[key]}")
        if tag == "link":
            self.external.append(f"link href={a.get('href')}")
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for k, v in attrs:
            if k.startswith("on"):
                self.errors.append(f"event handler {k} on {tag}")
        if "style" in a and "url(" in (a["style"] or ""):
            self.external.append(f"style url on {tag}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'} at {self.getpos()}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] in ("style", "script"):
            if "url(" in data or "@import" in data:
                self.external.append("css url or import")
            return
        self.text.append(data)


def main(path):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    c = Checker()
    c.feed(source)
    c.close()
    if c.stack:
        c.errors.append(f"unclosed: {c.stack}")
    text = re.sub(r"\s+", " ", "".join(c.text))
    out = {"errors": c.errors[:10], "sections": c.sections, "external": c.external, "scripts": c.scripts,
           "text_length": len(text), "links": [l for l in c.links if not l.startswith("https://")][:10],
           "doctype": source.lstrip().lower().startswith("<!doctype html>")}
    print(json.dumps(out))
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
