#!/usr/bin/env python3
"""Python peers of wasp's pipelines, for the end-to-end bench
(benches/e2e; docs/benchmarks.md, "End to end").

Each reads the records of --input, runs the same model as the wasp stage it
is compared with, and writes one output per record to --output under the
input's key:

  --workload knn      JSON Iris records, scikit-learn's
                      KNeighborsClassifier(n_neighbors=5) trained on the 150
                      rows of the knn plugin's builtin
                      (plugins/knn/data/iris.csv); the record with
                      "prediction" and "vote_share" added, and to --feedback
                      too when its "species" differs from the prediction
                      (wasp's knn stage with `builtin = "iris"`). One
                      predict_proba per call: KNeighborsClassifier.predict is
                      predict_proba plus an argmax, and the probability is the
                      vote share.
  --workload heart    seed 001's heart-disease records (JSON) through the
                      fitted scikit-learn Pipeline that examples/models/train.py
                      exports to heart.json (rebuilt here by the same code:
                      the same fit), `predict` on a DataFrame of the batch;
                      the output is the seed's text ("Risk of Heart Disease" /
                      "No Risk of Heart Disease"), as wasp's model stage with
                      `output = "label"` writes it.
  --workload reviews  seed 001's plain-text reviews through the TF-IDF +
                      LogisticRegression Pipeline of reviews.json, `predict`
                      on the batch's texts; "Positive Sentiment" / "Negative
                      Sentiment".

  --mode per-record   the seeds' way: kafka-python consumer and producer, one
                      scikit-learn call per record.
  --mode batched      confluent-kafka (librdkafka, like wasp), up to --batch
                      records per consume() and one scikit-learn call per batch.

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


def knn_model():
    from sklearn.neighbors import KNeighborsClassifier

    with open(IRIS, newline="") as f:
        rows = list(csv.DictReader(f))
    x = [[float(r[c]) for c in FEATURES] for r in rows]
    y = [r[LABEL] for r in rows]
    return KNeighborsClassifier(n_neighbors=5).fit(x, y)


def encode(record):
    return json.dumps(record, separators=(",", ":")).encode()


def knn_predictor():
    """Iris k-NN: (output value, also to feedback) per record value."""
    import numpy as np

    knn = knn_model()
    classes = knn.classes_

    def predict(values):
        recs = [json.loads(v) for v in values]
        proba = knn.predict_proba(np.array([[r[f] for f in FEATURES] for r in recs], dtype=float))
        best = proba.argmax(axis=1)
        out = []
        for rec, b, p in zip(recs, best, proba):
            prediction = str(classes[b])
            rec["prediction"] = prediction
            rec["vote_share"] = float(p[b])
            out.append((encode(rec), rec.get(LABEL) != prediction))
        return out

    return predict


def seed_predictor(workload):
    """Seed 001's pipelines, fitted by examples/models/train.py's own code."""
    sys.path.insert(0, os.path.join(ROOT, "examples", "models"))
    import train

    if workload == "heart":
        import pandas as pd

        model, _, held_out = train.heart_model()
        columns = list(held_out.columns)
        texts = {1: b"Risk of Heart Disease", 0: b"No Risk of Heart Disease"}

        def predict(values):
            frame = pd.DataFrame([json.loads(v) for v in values], columns=columns, dtype=float)
            return [(texts[int(y)], False) for y in model.predict(frame)]
    else:
        model, _, _ = train.sentiment_model()
        texts = {1: b"Positive Sentiment", 0: b"Negative Sentiment"}

        def predict(values):
            return [(texts[int(y)], False) for y in model.predict([v.decode() for v in values])]

    return predict


def predictor(workload):
    return knn_predictor() if workload == "knn" else seed_predictor(workload)


def kafka_python_consumer(bootstrap, topic, group, fetch_wait_ms):
    """The seeds' consumer: kafka-python, from the earliest record, with
    auto-commit (also used by pg_insert.py)."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        # Tansu answers a JoinGroup only after the rebalance timeout, which
        # kafka-python takes from this (default 300 s).
        max_poll_interval_ms=10000,
        fetch_max_wait_ms=fetch_wait_ms,
    )


def per_record(args, predict):
    """The seeds' way: kafka-python, one predict per record."""
    from kafka import KafkaProducer

    consumer = kafka_python_consumer(args.bootstrap, args.input, args.group, args.fetch_wait_ms)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap)
    n = 0
    while not stopping:
        polled = consumer.poll(timeout_ms=100)
        for records in polled.values():
            for m in records:
                [(value, wrong)] = predict([m.value])
                producer.send(args.output, key=m.key, value=value)
                if wrong:
                    producer.send(args.feedback, key=m.key, value=value)
                n += 1
    producer.flush()
    consumer.close()
    return n


def batched(args, predict):
    """confluent-kafka, one predict per consumed batch."""
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

    n = 0
    while not stopping:
        msgs = [m for m in consumer.consume(num_messages=args.batch, timeout=0.1) if not m.error()]
        if not msgs:
            producer.poll(0)
            continue
        for m, (value, wrong) in zip(msgs, predict([m.value() for m in msgs])):
            produce(args.output, m.key(), value)
            if wrong:
                produce(args.feedback, m.key(), value)
        producer.poll(0)
        n += len(msgs)
    producer.flush(60)
    consumer.close()
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["per-record", "batched"], required=True)
    p.add_argument("--workload", choices=["knn", "heart", "reviews"], default="knn")
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
    predict = predictor(args.workload)
    start = time.time()
    n = (per_record if args.mode == "per-record" else batched)(args, predict)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peer {args.workload} {args.mode}: {n} records in {time.time() - start:.1f} s, peak RSS {peak / 1024:.0f} MiB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
