"""``python -m evcharge.ocpp.codegen``: regenerate; ``--check``: exit 1 when the files are stale."""

from __future__ import annotations

import argparse
import sys

from evcharge.ocpp.codegen.generator import PACKAGE_DIR, VERSIONS, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evcharge.ocpp.codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="regenerate in memory; exit 1 if any file would change")
    parser.add_argument("versions", nargs="*", metavar="VERSION",
                        help=f"versions to generate: {', '.join(v.key for v in VERSIONS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.versions) - {v.key for v in VERSIONS}
    if unknown:
        parser.error(f"unknown version(s): {', '.join(sorted(unknown))}")
    wanted = [v for v in VERSIONS if not args.versions or v.key in args.versions]
    stale: list[str] = []
    for spec in wanted:
        for path, content in generate(spec).items():
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == content:
                continue
            rel = path.relative_to(PACKAGE_DIR.parent.parent)
            if args.check:
                stale.append(str(rel))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
                print(f"wrote {rel}")
    if stale:
        print("generated files are out of date (run python -m evcharge.ocpp.codegen):", file=sys.stderr)
        for name in stale:
            print(f"  {name}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
