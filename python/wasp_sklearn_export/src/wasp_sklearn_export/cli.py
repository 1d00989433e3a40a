"""`wasp-export-sklearn`: a fitted model file in, a wasp model document out."""
import argparse
import json
import sys

from . import SUPPORTED, UnsupportedEstimator, export, write


def _load_check_rows(path, text_column):
    import pandas as pd

    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if rows and all(isinstance(r, str) for r in rows):
            return rows
        return pd.DataFrame(rows)
    if path.endswith(".txt"):
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    frame = pd.read_csv(path)
    if text_column:
        return list(frame[text_column].astype(str))
    return frame


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="wasp-export-sklearn",
        description="Export a fitted scikit-learn estimator or Pipeline (joblib or pickle file) "
                    "to a wasp model document with check rows scikit-learn computed.",
        epilog="Supported: " + ", ".join(SUPPORTED),
    )
    p.add_argument("model", help="the fitted model, saved with joblib.dump or pickle")
    p.add_argument("-o", "--output", required=True, help="the document to write (JSON)")
    p.add_argument("--check-rows", required=True,
                   help="held-out inputs: CSV with a header (field models), .jsonl of objects or "
                        "strings, or .txt with one document per line (text models)")
    p.add_argument("--text-column", help="for a text model and a CSV: the column with the documents")
    p.add_argument("--fields", help="comma-separated record field names, in column order, for a "
                                    "model fitted without column names")
    p.add_argument("--max-check-rows", type=int, default=500)
    args = p.parse_args(argv)

    import joblib

    try:
        model = joblib.load(args.model)
    except Exception as e:  # joblib raises many kinds; the user needs the message
        p.exit(2, f"wasp-export-sklearn: cannot load {args.model}: {e}\n")
    fields = [f.strip() for f in args.fields.split(",")] if args.fields else None
    try:
        rows = _load_check_rows(args.check_rows, args.text_column)
        doc = export(model, rows, fields=fields, max_check_rows=args.max_check_rows)
    except UnsupportedEstimator as e:
        p.exit(2, f"wasp-export-sklearn: not exported: {e}\n")
    except (ValueError, KeyError, OSError) as e:
        p.exit(2, f"wasp-export-sklearn: not exported: {e}\n")
    write(doc, args.output)
    print(f"wrote {args.output}: {doc['meta']['model']} ({doc['input']['kind']} input), "
          f"{len(doc['checks'])} check rows, scikit-learn {doc['sklearn_version']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
