//! Isolation Forest (Liu, Ting and Zhou, 2008) as scikit-learn builds and
//! scores it, with a seeded generator of our own so a forest is a pure
//! function of (samples, settings, seed).

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and good enough
/// for choosing subsamples, features and thresholds. No OS entropy is ever
/// read, so the same seed always gives the same forest, on Wasm or natively.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)`, unbiased (Lemire's multiply-and-reject). `n > 0`.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }
}

/// `c(n)`: the average path length of an unsuccessful search in a binary
/// search tree of `n` points, which normalises path lengths. Matches
/// sklearn's `_average_path_length`: 0 for n <= 1, 1 for n = 2.
pub fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// NumPy's default `percentile` (method "linear") of `values` at `q` in
/// `[0, 100]`. `values` must not be empty.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    // NumPy's lerp form, so results match to the last bit where it matters.
    let (a, b) = (v[lo], v[hi]);
    let d = b - a;
    if frac >= 0.5 {
        b - d * (1.0 - frac)
    } else {
        a + d * frac
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    /// Path length credited to a point ending here: depth + c(size).
    Leaf {
        path: f64,
    },
}

/// One isolation tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Grow a tree on the rows `idx` of `data`.
    ///
    /// As sklearn's `ExtraTreeRegressor(max_features=1, splitter="random")`
    /// inside `IsolationForest`: pick a feature uniformly among those not
    /// constant in the node, a threshold uniformly in `[min, max)` of that
    /// feature in the node (a draw equal to `max` becomes `min`), send
    /// `x <= threshold` left; stop at `max_depth`, at one point, or when
    /// every feature is constant.
    fn grow(data: &[Vec<f64>], idx: &mut [usize], max_depth: usize, rng: &mut SplitMix64) -> Tree {
        let mut tree = Tree { nodes: Vec::new() };
        tree.node(data, idx, 0, max_depth, rng);
        tree
    }

    fn node(
        &mut self,
        data: &[Vec<f64>],
        idx: &mut [usize],
        depth: usize,
        max_depth: usize,
        rng: &mut SplitMix64,
    ) -> usize {
        let at = self.nodes.len();
        let leaf = Node::Leaf { path: depth as f64 + average_path_length(idx.len()) };
        if depth >= max_depth || idx.len() <= 1 {
            self.nodes.push(leaf);
            return at;
        }
        let dims = data[idx[0]].len();
        let ranges: Vec<(usize, f64, f64)> = (0..dims)
            .filter_map(|f| {
                let (lo, hi) =
                    idx.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                        (lo.min(data[i][f]), hi.max(data[i][f]))
                    });
                (lo < hi).then_some((f, lo, hi))
            })
            .collect();
        if ranges.is_empty() {
            self.nodes.push(leaf);
            return at;
        }
        let (feature, lo, hi) = ranges[rng.below(ranges.len())];
        let mut threshold = lo + (hi - lo) * rng.next_f64();
        if threshold >= hi {
            threshold = lo;
        }
        // Partition in place: `x <= threshold` first.
        let mut split = 0;
        for j in 0..idx.len() {
            if data[idx[j]][feature] <= threshold {
                idx.swap(split, j);
                split += 1;
            }
        }
        self.nodes.push(Node::Split { feature, threshold, left: 0, right: 0 });
        let (l, r) = idx.split_at_mut(split);
        let left = self.node(data, l, depth + 1, max_depth, rng);
        let right = self.node(data, r, depth + 1, max_depth, rng);
        self.nodes[at] = Node::Split { feature, threshold, left, right };
        at
    }

    /// h(x): the depth at which `x` is isolated, plus c(size) of its leaf.
    pub fn path_length(&self, x: &[f64]) -> f64 {
        let mut at = 0;
        loop {
            match &self.nodes[at] {
                Node::Leaf { path } => return *path,
                Node::Split { feature, threshold, left, right } => {
                    at = if x[*feature] <= *threshold { *left } else { *right };
                }
            }
        }
    }

    /// Depth of the deepest leaf.
    pub fn depth(&self) -> usize {
        fn walk(nodes: &[Node], at: usize) -> usize {
            match &nodes[at] {
                Node::Leaf { .. } => 0,
                Node::Split { left, right, .. } => 1 + walk(nodes, *left).max(walk(nodes, *right)),
            }
        }
        walk(&self.nodes, 0)
    }
}

/// Forest settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Trees (sklearn's `n_estimators`).
    pub trees: usize,
    /// Points per tree (sklearn's `max_samples`), capped at the data size.
    pub sample_size: usize,
    /// Generator seed.
    pub seed: u64,
}

/// A fitted isolation forest.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    trees: Vec<Tree>,
    /// c(psi): the normaliser of the mean path length.
    norm: f64,
}

impl Forest {
    /// Fit on `data` (every row the same length, at least one row).
    ///
    /// Each tree draws `psi = min(sample_size, n)` rows without
    /// replacement and grows to depth `ceil(log2(max(psi, 2)))`, as sklearn
    /// does. Everything random comes from one SplitMix64 stream seeded with
    /// `seed`, used tree after tree, so the forest depends only on `data`
    /// (and its order) and the settings.
    pub fn fit(data: &[Vec<f64>], s: Settings) -> Forest {
        let n = data.len();
        let psi = s.sample_size.min(n).max(1);
        let mut max_depth = 0;
        while (1usize << max_depth) < psi.max(2) {
            max_depth += 1;
        }
        let mut rng = SplitMix64::new(s.seed);
        let mut all: Vec<usize> = (0..n).collect();
        let trees = (0..s.trees)
            .map(|_| {
                // Partial Fisher-Yates: the first psi slots become a uniform
                // sample without replacement.
                for i in 0..psi {
                    let j = i + rng.below(n - i);
                    all.swap(i, j);
                }
                let mut idx = all[..psi].to_vec();
                Tree::grow(data, &mut idx, max_depth, &mut rng)
            })
            .collect();
        Forest { trees, norm: average_path_length(psi) }
    }

    /// The paper's anomaly score `s(x, psi) = 2^(-E[h(x)] / c(psi))`, in
    /// (0, 1]: near 1 is anomalous, well below 0.5 is normal. It is the
    /// negation of sklearn's `score_samples`.
    pub fn score(&self, x: &[f64]) -> f64 {
        if self.norm == 0.0 {
            // One point per tree: sklearn defines the score as 1.
            return 1.0;
        }
        let total: f64 = self.trees.iter().map(|t| t.path_length(x)).sum();
        2f64.powf(-(total / self.trees.len() as f64) / self.norm)
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_matches_sklearn() {
        // sklearn.ensemble._iforest._average_path_length([0,1,2,3,10,256,1000])
        let want = [
            0.0,
            0.0,
            1.0,
            1.207392357589623,
            3.748880484475505,
            10.244770920119917,
            12.969940887100174,
        ];
        for (n, w) in [0, 1, 2, 3, 10, 256, 1000].into_iter().zip(want) {
            assert!((average_path_length(n) - w).abs() < 1e-12, "c({n})");
        }
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        let v = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6];
        assert_eq!(percentile(&v, 95.0), 7.75);
        assert_eq!(percentile(&v, 50.0), 2.8);
        assert_eq!(percentile(&v, 100.0), 9.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
    }

    #[test]
    fn rng_is_seeded_and_in_range() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(SplitMix64::new(43).next_u64(), xs[0]);
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            counts[a.below(3)] += 1;
            let f = a.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert!(counts.iter().all(|&c| (900..1100).contains(&c)), "{counts:?}");
    }

    fn cloud(n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut r = SplitMix64::new(seed);
        (0..n).map(|_| vec![r.next_f64(), r.next_f64() * 2.0]).collect()
    }

    #[test]
    fn outliers_score_higher_and_trees_respect_max_depth() {
        let data = cloud(300, 1);
        let s = Settings { trees: 50, sample_size: 64, seed: 7 };
        let f = Forest::fit(&data, s);
        assert_eq!(f.trees().len(), 50);
        assert!(f.trees().iter().all(|t| t.depth() <= 6));
        let inside = f.score(&[0.5, 1.0]);
        let outside = f.score(&[3.0, -2.0]);
        assert!(outside > 0.65 && inside < 0.5, "inside {inside}, outside {outside}");
        assert_eq!(f, Forest::fit(&data, s));
        assert_ne!(f, Forest::fit(&data, Settings { seed: 8, ..s }));
    }

    #[test]
    fn constant_data_gives_leaves_and_one_point_scores_one() {
        let same = vec![vec![1.0, 2.0]; 10];
        let f = Forest::fit(&same, Settings { trees: 3, sample_size: 256, seed: 0 });
        assert!(f.trees().iter().all(|t| t.depth() == 0));
        // Every point ends in the root leaf: h = c(10) = c(psi), s = 1/2.
        assert!((f.score(&[1.0, 2.0]) - 0.5).abs() < 1e-12);
        let one = Forest::fit(&same[..1], Settings { trees: 3, sample_size: 256, seed: 0 });
        assert_eq!(one.score(&[5.0, 5.0]), 1.0);
    }
}
