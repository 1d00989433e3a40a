#!/usr/bin/env python3
"""The cricket match-state generator of seed 004 (the score predictor demo).

The one generator in the repository: the learner's quality data
(plugins/learner/data/, written by scripts/sklearn-cricket.py), the broker
tests (which read those files) and scripts/demo-cricket all come from here.

A match state, as the seed defines it:
  current_over      uniform in [5, 20)
  current_score     current_over * uniform(5, 10)      (5 to 10 runs an over)
  wickets           integer in [0, 9]
  run_rate          current_score / current_over
  batting_strength  uniform in [0.6, 1.0)
  pitch_condition   uniform in [0.7, 1.0)
  final_score       current_score + (20 - current_over) * run_rate
                    * (10 - wickets) / 10 * batting_strength * pitch_condition,
                    times uniform(0.9, 1.1) noise, and never below current_score

The seed draws in that order from Python's `random`; so does this, from a
`random.Random(seed)`, so a seed gives the same states on any Python 3.

`band` ("high" when final_score >= HIGH_SCORE, else "low") is ours: the
classification case of the learner's quality check.

The seed's match simulation is cut off after its first lines (batting
strength 0.8, pitch 0.85, score and wickets from 0), so the over-by-over
rule of `simulate_match` is ours: each over scores uniform(5, 10) runs (the
training states' range) and loses a wicket with probability 0.1 (at most 9). One state per over from the
5th (the training range) to the 19th, plus `match_id`, `over` and, once the
20 overs are played, the match's real final score in the last line's
`actual_final_score`.

Usage:
  scripts/cricket.py training N [--seed S]   N training states, JSON lines
  scripts/cricket.py match [--seed S]        one simulated match, JSON lines
"""
import argparse
import json
import random
import sys

HIGH_SCORE = 120.0
FEATURES = [
    "current_over",
    "current_score",
    "wickets",
    "run_rate",
    "batting_strength",
    "pitch_condition",
]


def match_state(rng):
    """One training state with its final_score and band."""
    current_over = rng.uniform(5, 20)
    current_score = current_over * rng.uniform(5, 10)
    wickets = rng.randint(0, 9)
    run_rate = current_score / current_over
    batting_strength = rng.uniform(0.6, 1.0)
    pitch_condition = rng.uniform(0.7, 1.0)
    remaining_overs = 20 - current_over
    wicket_factor = (10 - wickets) / 10
    final_score = current_score + (
        remaining_overs * run_rate * wicket_factor * batting_strength * pitch_condition
    )
    final_score = max(final_score * rng.uniform(0.9, 1.1), current_score)
    return {
        "current_over": current_over,
        "current_score": current_score,
        "wickets": wickets,
        "run_rate": run_rate,
        "batting_strength": batting_strength,
        "pitch_condition": pitch_condition,
        "final_score": final_score,
        "band": "high" if final_score >= HIGH_SCORE else "low",
    }


def training(n, seed):
    rng = random.Random(seed)
    return [match_state(rng) for _ in range(n)]


def simulate_match(seed, match_id="match-1", batting_strength=0.8, pitch_condition=0.85):
    rng = random.Random(seed)
    score = 0.0
    wickets = 0
    states = []
    for over in range(1, 21):
        score += rng.uniform(5, 10)
        if wickets < 9 and rng.random() < 0.1:
            wickets += 1
        if 5 <= over <= 19:
            states.append(
                {
                    "match_id": match_id,
                    "over": over,
                    "current_over": float(over),
                    "current_score": round(score),
                    "wickets": wickets,
                    "run_rate": round(score) / over,
                    "batting_strength": batting_strength,
                    "pitch_condition": pitch_condition,
                }
            )
    states[-1]["actual_final_score"] = round(score)
    return states


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("training", help="N training states")
    t.add_argument("n", type=int)
    t.add_argument("--seed", type=int, default=42)
    m = sub.add_parser("match", help="one simulated match, a state per over")
    m.add_argument("--seed", type=int, default=7)
    m.add_argument("--match-id", default="match-1")
    a = p.parse_args()
    rows = training(a.n, a.seed) if a.what == "training" else simulate_match(a.seed, a.match_id)
    for r in rows:
        sys.stdout.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
