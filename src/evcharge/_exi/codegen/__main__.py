"""``python -m evcharge._exi.codegen [--check]``."""

from __future__ import annotations

import argparse
import sys

from evcharge._exi.codegen import FAMILIES, OUTPUT_DIR, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evcharge._exi.codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the generated files are not up to date")
    args = parser.parse_args(argv)
    stale = []
    OUTPUT_DIR.mkdir(exist_ok=True)
    init = OUTPUT_DIR / "__init__.py"
    init_text = '"""Generated EXI grammars and message classes (see evcharge._exi.codegen). DO NOT EDIT."""\n'
    expected = {init: init_text}
    for fam in FAMILIES:
        expected[OUTPUT_DIR / f"{fam.module}.py"] = generate(fam)
    for path, text in expected.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check:
        if stale:
            print("stale generated files (run python -m evcharge._exi.codegen):", file=sys.stderr)
            for p in stale:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"generated EXI modules are up to date ({len(expected)} files)")
        return 0
    for p in stale:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
