# Helpers of the demo scripts (scripts/demo, scripts/demo-cricket), sourced
# after they set `run` (the run id) and `wasp` (the binary).

# A copy of an example pipeline for this run: topic names (not the field
# names of dead_letter_redact; a stage's
# status_topic and routes too, and [topics.partitions]) and the pipeline name (hence the consumer group)
# suffixed with the run id, plugin paths
# made absolute, state in target/demo.
localize() { # SRC DST STATE
  python3 - "$1" "$2" "$run" "$3" <<'EOF'
import os, re, sys
src, dst, run, state = sys.argv[1:5]
base = os.path.dirname(os.path.abspath(src))
section, out = None, []
suffix = lambda m: f'"{m.group(1)}-{run}"'
for line in open(src):
    header = re.match(r"\s*\[\[?([^\]]+)\]\]?\s*$", line)
    if header:
        section = header.group(1).strip()
    elif section is None and re.match(r"name\s*=", line):
        line = re.sub(r'"([^"]+)"', suffix, line, count=1)
    elif section == "topics" and re.match(r"\s*dead_letter_redact\s*=", line):
        pass  # field names, not topics
    elif section in ("topics", "topics.partitions"):
        line = re.sub(r'"([^"]+)"', suffix, line)
    elif section == "stage.config.routes":
        line = re.sub(r'topic\s*=\s*"([^"]+)"', lambda m: f'topic = "{m.group(1)}-{run}"', line)
    elif section == "state" and re.match(r"\s*path\s*=", line):
        line = f'path = "{state}"\n'
    elif section == "stage.config" and re.match(r"\s*status_topic\s*=", line):
        line = re.sub(r'"([^"]+)"', suffix, line, count=1)
    elif section == "stage" and re.match(r"\s*plugin\s*=", line):
        line = re.sub(r'"([^"]+)"', lambda m: '"%s"' % os.path.normpath(os.path.join(base, m.group(1))), line, count=1)
    out.append(line)
open(dst, "w").write("".join(out))
EOF
}

# Read a topic into FILE and print its count and the first N values.
show() { # TOPIC FILE N
  "$wasp" consume "$1" --idle 2 >"$2" 2>/dev/null
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
topic, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = [json.loads(l) for l in open(path) if l.strip()]
print(f"{topic}: {len(recs)} record{'s' if len(recs) != 1 else ''}")
for r in recs[:n]:
    value = json.dumps(r["value"], separators=(",", ":"))
    if len(value) > 150:
        value = value[:147] + "..."
    why = r.get("headers", {}).get("wasp.error.reason")
    print(f"  p{r['partition']}@{r['offset']} key={r['key']} {value}" + (f"  [{why}]" if why else ""))
if 0 < n < len(recs):
    print(f"  ... {len(recs) - n} more")
EOF
}

# `wasp run` with its log in a file; prints the run's summary line.
run_pipeline() { # PIPELINE LOG ARGS...
  local pipeline="$1" log="$2"
  shift 2
  if ! "$wasp" run "$pipeline" --no-watch "$@" 2>"$log"; then
    tail -n 30 "$log"
    echo "wasp run failed; the full log is $log" >&2
    exit 1
  fi
  grep '^wasp: ' "$log"
}
