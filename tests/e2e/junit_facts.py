"""Reads a provhil junit.xml with a third-party JUnit reader (Debian python3-junitparser) and prints
what CI would see, as JSON, for e2e_test.cpp to check:

  {"suites": [{"name", "properties": {name: value}}],
   "cases": [{"classname", "name", "file", "line", "results": [{"tag", "message", "text"}],
              "flaky": n, "attachments": [path...], "first_attachment_text": str|null}]}

Usage: junit_facts.py JUNIT_XML BASE_DIR  (attachment paths are relative to BASE_DIR)
"""
import json
import os
import re
import sys

from junitparser import JUnitXml

ATTACHMENT = re.compile(r"\[\[ATTACHMENT\|([^|\]]+)(\|[^\]]*)?\]\]")


def main():
    junit_path, base = sys.argv[1], sys.argv[2]
    xml = JUnitXml.fromfile(junit_path)
    suites, cases = [], []
    for suite in xml:
        suites.append({"name": suite.name, "properties": {p.name: p.value for p in suite.properties()}})
        for case in suite:
            results = [{"tag": r._tag, "message": r.message, "text": r.text} for r in case.result]
            out = case.system_out or ""
            attachments = [m.group(1) for m in ATTACHMENT.finditer(out)]
            first_text = None
            if attachments:
                path = os.path.join(base, attachments[0])
                try:
                    with open(path, "rb") as f:
                        first_text = f.read().decode("utf-8")
                except (OSError, UnicodeDecodeError) as e:
                    first_text = None
                    print(f"first attachment {path}: {e}", file=sys.stderr)
            elem = case._elem
            cases.append({
                "classname": case.classname,
                "name": case.name,
                "file": elem.get("file"),
                "line": elem.get("line"),
                "results": results,
                "flaky": len(elem.findall("flakyFailure")) + len(elem.findall("flakyError")),
                "attachments": attachments,
                "first_attachment_text": first_text,
            })
    json.dump({"suites": suites, "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
