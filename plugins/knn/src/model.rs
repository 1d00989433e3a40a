//! Labels, training rows and the neighbour search, free of any host call so
//! they can be checked against scikit-learn natively.
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A class label: a JSON string or number.
///
/// Ordering follows scikit-learn's `classes_` (the sorted unique labels):
/// numbers numerically, strings by code point (Rust's byte order on UTF-8
/// is code-point order, as NumPy's unicode sort is). sklearn refuses mixed
/// label types; here numbers sort before strings so a mixed set still has a
/// total order.
#[derive(Debug, Clone)]
pub enum Label {
    /// A numeric label, e.g. `0`.
    Num(f64),
    /// A string label, e.g. `"Iris-setosa"`.
    Str(String),
}

impl Label {
    /// The label of a JSON value; `None` for anything but a string or number.
    pub fn from_json(v: &Value) -> Option<Label> {
        match v {
            Value::String(s) => Some(Label::Str(s.clone())),
            Value::Number(n) => n.as_f64().map(Label::Num),
            _ => None,
        }
    }

    /// A label read from CSV text: a finite number if the cell is one, so
    /// CSV `0` matches a record's JSON `0`; otherwise the text.
    pub fn from_text(s: &str) -> Label {
        match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Label::Num(x),
            _ => Label::Str(s.to_owned()),
        }
    }

    /// The label as JSON; whole numbers are written as integers.
    pub fn to_json(&self) -> Value {
        match self {
            Label::Str(s) => Value::String(s.clone()),
            Label::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(*x as i64),
            Label::Num(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        }
    }
}

impl Ord for Label {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Label::Num(a), Label::Num(b)) => a.total_cmp(b),
            (Label::Str(a), Label::Str(b)) => a.cmp(b),
            (Label::Num(_), Label::Str(_)) => Ordering::Less,
            (Label::Str(_), Label::Num(_)) => Ordering::Greater,
        }
    }
}
impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Label {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Label {}

/// One labelled training example; `x` is in the order of the `features`
/// config.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Feature values.
    pub x: Vec<f64>,
    /// True class.
    pub y: Label,
}

impl Row {
    /// `{"x":[...],"y":label}`, the form rows take in the state store.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("x".into(), Value::from(self.x.clone()));
        m.insert("y".into(), self.y.to_json());
        Value::Object(m)
    }

    /// Inverse of [`Row::to_json`]; `None` for anything malformed.
    pub fn from_json(v: &Value) -> Option<Row> {
        let x = v.get("x")?.as_array()?.iter().map(Value::as_f64).collect::<Option<Vec<_>>>()?;
        let y = Label::from_json(v.get("y")?)?;
        Some(Row { x, y })
    }
}

/// How far apart two feature vectors are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Minkowski p=2, sklearn's default.
    Euclidean,
    /// Minkowski p=1.
    Manhattan,
}

impl Distance {
    /// A monotone stand-in for the distance: squared Euclidean, or Manhattan.
    ///
    /// sklearn's kd-tree ranks neighbours by this "reduced distance" (the
    /// sum of squares, no square root), accumulated feature by feature in
    /// column order; doing the same keeps equal distances equal bit for bit,
    /// which the tie rule depends on.
    pub fn reduced(self, a: &[f64], b: &[f64]) -> f64 {
        let mut acc = 0.0;
        match self {
            Distance::Euclidean => {
                for (p, q) in a.iter().zip(b) {
                    let d = p - q;
                    acc += d * d;
                }
            }
            Distance::Manhattan => {
                for (p, q) in a.iter().zip(b) {
                    acc += (p - q).abs();
                }
            }
        }
        acc
    }
}

/// The outcome of one vote.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The winning class.
    pub label: Label,
    /// Neighbours that voted for it.
    pub votes: usize,
    /// Neighbours that voted: `k`, or fewer when the training set is smaller.
    pub neighbours: usize,
}

impl Prediction {
    /// Share of the neighbours' votes that went to the winner.
    pub fn share(&self) -> f64 {
        self.votes as f64 / self.neighbours as f64
    }
}

/// The `k` nearest rows to `query`, as indices into `rows`, nearest first
/// (equal distances by index).
///
/// Which rows win among equal distances follows scikit-learn exactly as it
/// selects them: a bounded max-heap of k (distance, index) pairs, started
/// full of infinities, fed the rows in training order, with the sift-down
/// of `sklearn/utils/_heap.pyx::heap_push`. A row whose distance equals the
/// heap's largest is refused; a nearer row evicts whichever of several
/// equally far rows sits at the heap's root, which is not always the latest
/// one. That is what sklearn's brute force does, and what its kd-tree does
/// inside a leaf (a training set of up to 60 rows is one leaf with the
/// default `leaf_size=30`).
pub fn nearest(rows: &[Row], query: &[f64], k: usize, distance: Distance) -> Vec<usize> {
    let mut vals = vec![f64::INFINITY; k];
    let mut idx = vec![usize::MAX; k];
    for (j, row) in rows.iter().enumerate() {
        let v = distance.reduced(&row.x, query);
        if v >= vals[0] {
            continue;
        }
        let mut cur = 0;
        loop {
            let left = 2 * cur + 1;
            let right = left + 1;
            // sklearn's two cases "no right child" and "left child not
            // smaller" are one here: both follow the left child.
            let swap = if left >= k {
                break;
            } else if right >= k || vals[left] >= vals[right] {
                if v < vals[left] {
                    left
                } else {
                    break;
                }
            } else if v < vals[right] {
                right
            } else {
                break;
            };
            vals[cur] = vals[swap];
            idx[cur] = idx[swap];
            cur = swap;
        }
        vals[cur] = v;
        idx[cur] = j;
    }
    let mut best: Vec<(f64, usize)> =
        vals.into_iter().zip(idx).filter(|&(_, i)| i != usize::MAX).collect();
    best.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    best.into_iter().map(|(_, i)| i).collect()
}

/// The majority label among `labels`; ties go to the smallest label, as
/// sklearn's `mode` over sorted `classes_` does.
pub fn vote<'a>(labels: impl IntoIterator<Item = &'a Label>) -> Option<Prediction> {
    let mut counts: Vec<(&Label, usize)> = Vec::new();
    let mut neighbours = 0;
    for l in labels {
        neighbours += 1;
        match counts.iter_mut().find(|(c, _)| *c == l) {
            Some((_, n)) => *n += 1,
            None => counts.push((l, 1)),
        }
    }
    let (label, votes) =
        counts.into_iter().min_by(|(la, na), (lb, nb)| nb.cmp(na).then_with(|| la.cmp(lb)))?;
    Some(Prediction { label: label.clone(), votes, neighbours })
}

/// A k-NN model over an ordered training set.
#[derive(Debug, Clone)]
pub struct Knn {
    /// Neighbours per vote (sklearn's `n_neighbors`).
    pub k: usize,
    /// The metric.
    pub distance: Distance,
}

impl Knn {
    /// Classify `query` against `rows`; `None` only when `rows` is empty.
    ///
    /// sklearn refuses `k` larger than the training set; a streaming model
    /// that starts small instead votes with every row it has.
    pub fn predict(&self, rows: &[Row], query: &[f64]) -> Option<Prediction> {
        vote(nearest(rows, query, self.k, self.distance).into_iter().map(|i| &rows[i].y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(x: &[f64], y: &str) -> Row {
        Row { x: x.to_vec(), y: Label::Str(y.into()) }
    }

    #[test]
    fn equal_distances_follow_sklearns_heap() {
        // sklearn: KNeighborsClassifier(3).fit([[1],[-1],[0],[0]], list("abcd"))
        // .kneighbors([[0]]) gives rows 2, 3, 1 (any algorithm): the heap
        // evicts row 0, not row 1, when row 3 arrives. A stable sort by
        // (distance, index) would keep row 0 and predict "a" instead of "b".
        let rows = [row(&[1.0], "a"), row(&[-1.0], "b"), row(&[0.0], "c"), row(&[0.0], "d")];
        assert_eq!(nearest(&rows, &[0.0], 3, Distance::Euclidean), vec![2, 3, 1]);
        let knn = Knn { k: 3, distance: Distance::Euclidean };
        assert_eq!(knn.predict(&rows, &[0.0]).unwrap().label, Label::Str("b".into()));
        // Fewer rows than k: all of them, nearest first.
        assert_eq!(nearest(&rows, &[0.9], 9, Distance::Euclidean), vec![0, 2, 3, 1]);
        // A row as far as the heap's largest never gets in.
        assert_eq!(nearest(&rows, &[0.0], 1, Distance::Euclidean), vec![2]);
    }

    #[test]
    fn vote_ties_go_to_the_smallest_label() {
        let l = |s: &str| Label::Str(s.into());
        let p = vote([&l("b"), &l("a"), &l("c"), &l("b"), &l("a")]).unwrap();
        assert_eq!((p.label, p.votes, p.neighbours), (l("a"), 2, 5));
        let n = |x: f64| Label::Num(x);
        // Numerically 9 < 10, although "10" < "9" as text.
        assert_eq!(vote([&n(10.0), &n(9.0)]).unwrap().label, n(9.0));
    }

    #[test]
    fn manhattan_differs_from_euclidean() {
        let rows = [row(&[3.0, 0.0], "far-diagonal-close"), row(&[2.0, 2.0], "diag")];
        // Euclidean: 9 vs 8 → diag; Manhattan: 3 vs 4 → first.
        let knn = |d| Knn { k: 1, distance: d };
        assert_eq!(knn(Distance::Euclidean).predict(&rows, &[0.0, 0.0]).unwrap().label, rows[1].y);
        assert_eq!(knn(Distance::Manhattan).predict(&rows, &[0.0, 0.0]).unwrap().label, rows[0].y);
    }

    #[test]
    fn labels_round_trip_through_json_and_text() {
        assert_eq!(Label::from_text("2").to_json(), Value::from(2));
        assert_eq!(Label::from_text("2.5").to_json(), Value::from(2.5));
        assert_eq!(Label::from_text("inf").to_json(), Value::from("inf"));
        assert_eq!(Label::from_json(&Value::from(2)).unwrap(), Label::from_text("2.0"));
        assert!(Label::from_json(&Value::Bool(true)).is_none());
        let r = row(&[1.5, -2.0], "x");
        assert_eq!(Row::from_json(&r.to_json()).unwrap(), r);
    }
}
