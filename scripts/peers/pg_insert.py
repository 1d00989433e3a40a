#!/usr/bin/env python3
"""The Python peer of wasp's PostgreSQL sink, for benches/postgres.rs
(docs/benchmarks.md, "PostgreSQL sink").

Seed 003's way of storing events: a kafka-python consumer, and for each
record one psycopg2 INSERT followed by a commit; with --batched, one
multi-row INSERT (psycopg2's execute_values) and one commit per poll, as a
Python author who batches would write it. It reads the JSON events
of --input (username, event_type, timestamp) and writes each as a row of
--table (username, event_type, timestamp and the record's topic, partition
and offset, as wasp fills them), until --records rows are written; then it
prints the count and exits 0.

Needs scripts/peers/requirements.txt (scripts/peers/setup installs it).
The password comes from the file named by --password-file, never argv.
"""

import argparse
import json
import os

import psycopg2
from psycopg2.extras import execute_values

from peer import kafka_python_consumer


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=os.environ.get("WASP_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    p.add_argument("--input", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--url", required=True, help="postgres://user@host:port/db")
    p.add_argument("--password-file", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--records", type=int, required=True)
    p.add_argument("--batched", action="store_true", help="one INSERT and commit per poll")
    args = p.parse_args()

    with open(args.password_file) as f:
        password = f.readline().rstrip("\n")
    conn = psycopg2.connect(args.url, password=password, application_name="pg-peer")
    cursor = conn.cursor()
    insert = (
        f"insert into {args.table} (username, event_type, timestamp, source_topic, "
        "source_partition, source_offset) values (%s, %s, %s, %s, %s, %s)"
    )
    consumer = kafka_python_consumer(args.bootstrap, args.input, args.group, fetch_wait_ms=10)
    n = 0
    while n < args.records:
        rows = []
        for records in consumer.poll(timeout_ms=100).values():
            for m in records:
                e = json.loads(m.value)
                row = (e["username"], e["event_type"], e["timestamp"], m.topic, m.partition, m.offset)
                if args.batched:
                    rows.append(row)
                else:
                    cursor.execute(insert, row)
                    conn.commit()
                n += 1
        if rows:
            execute_values(cursor, insert.replace("(%s, %s, %s, %s, %s, %s)", "%s"), rows, page_size=1000)
            conn.commit()
    consumer.close()
    conn.close()
    print(n)


if __name__ == "__main__":
    main()
