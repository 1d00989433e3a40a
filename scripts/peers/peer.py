#!/usr/bin/env python3
"""Python peers of wasp's Iris k-NN pipeline, for the end-to-end bench
(benches/e2e; docs/benchmarks.md, "End to end").

Both read JSON Iris records from --input, classify them with scikit-learn's
KNeighborsClassifier(n_neighbors=5) trained on the same 150 rows as the knn
plugin's builtin (plugins/knn/data/iris.csv), and write each record with
"prediction" and "vote_share" added to --output under the input's key; a
record whose "species" differs from the prediction also goes to --feedback.
That is what wasp's knn stage does with `builtin = "iris"`.

  --mode per-record   the seeds' way: kafka-python consumer and producer, one
                      scikit-learn call per record.
  --mode batched      confluent-kafka (librdkafka, like wasp), up to --batch
                      records per consume() and one scikit-learn call per batch.

Each record costs one predict_proba call: KNeighborsClassifier.predict is
predict_proba plus an argmax, and the probability is the vote share.

Runs until SIGTERM or SIGINT, then flushes the producer and exits 0. Needs
the packages of requirements.txt (scripts/peers/setup installs them).
"""

import argparse
import csv
import json
import os
import resource
import signal
import sys
import time

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IRIS = os.path.join(ROOT, "plugins", "knn", "data", "iris.csv")

stopping = False


def on_signal(_signum, _frame):
    global stopping
    stopping = True


def model():
    from sklearn.neighbors import KNeighborsClassifier

    with open(IRIS, newline="") as f:
        rows = list(csv.DictReader(f))
    x = [[float(r[c]) for c in FEATURES] for r in rows]
    y = [r[LABEL] for r in rows]
    return KNeighborsClassifier(n_neighbors=5).fit(x, y)


def encode(record):
    return json.dumps(record, separators=(",", ":")).encode()


def per_record(args, knn):
    """The seeds' way: kafka-python, one predict per record."""
    from kafka import KafkaConsumer, KafkaProducer

    consumer = KafkaConsumer(
        args.input,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        # Tansu answers a JoinGroup only after the rebalance timeout, which
        # kafka-python takes from this (default 300 s).
        max_poll_interval_ms=10000,
        fetch_max_wait_ms=args.fetch_wait_ms,
    )
    producer = KafkaProducer(bootstrap_servers=args.bootstrap)
    classes = knn.classes_
    n = 0
    while not stopping:
        polled = consumer.poll(timeout_ms=100)
        for records in polled.values():
            for m in records:
                rec = json.loads(m.value)
                proba = knn.predict_proba([[rec[f] for f in FEATURES]])[0]
                best = proba.argmax()
                prediction = str(classes[best])
                rec["prediction"] = prediction
                rec["vote_share"] = float(proba[best])
                value = encode(rec)
                producer.send(args.output, key=m.key, value=value)
                if rec.get(LABEL) != prediction:
                    producer.send(args.feedback, key=m.key, value=value)
                n += 1
    producer.flush()
    consumer.close()
    return n


def batched(args, knn):
    """confluent-kafka, one predict per consumed batch."""
    import numpy as np
    from confluent_kafka import Consumer, Producer

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": args.fetch_wait_ms,
            # wasp's consumer default (host/src/kafka/mod.rs): do not idle
            # for up to 1 s once 100 000 records are queued.
            "fetch.queue.backoff.ms": 50,
        }
    )
    consumer.subscribe([args.input])
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5})

    def produce(topic, key, value):
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                return
            except BufferError:
                producer.poll(0.005)

    classes = knn.classes_
    n = 0
    while not stopping:
        msgs = [m for m in consumer.consume(num_messages=args.batch, timeout=0.1) if not m.error()]
        if not msgs:
            producer.poll(0)
            continue
        recs = [json.loads(m.value()) for m in msgs]
        x = np.array([[r[f] for f in FEATURES] for r in recs], dtype=float)
        proba = knn.predict_proba(x)
        best = proba.argmax(axis=1)
        for m, rec, b, p in zip(msgs, recs, best, proba):
            prediction = str(classes[b])
            rec["prediction"] = prediction
            rec["vote_share"] = float(p[b])
            value = encode(rec)
            produce(args.output, m.key(), value)
            if rec.get(LABEL) != prediction:
                produce(args.feedback, m.key(), value)
        producer.poll(0)
        n += len(msgs)
    producer.flush(60)
    consumer.close()
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["per-record", "batched"], required=True)
    p.add_argument("--bootstrap", default=os.environ.get("WASP_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--feedback", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--batch", type=int, default=256)
    # Tansu answers a fetch only when this expires (see benches/e2e/measure.rs).
    p.add_argument("--fetch-wait-ms", type=int, default=10)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    knn = model()
    start = time.time()
    n = (per_record if args.mode == "per-record" else batched)(args, knn)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peer {args.mode}: {n} records in {time.time() - start:.1f} s, peak RSS {peak / 1024:.0f} MiB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
