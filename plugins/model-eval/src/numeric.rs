//! numpy's and scipy's arithmetic where the order of operations decides the
//! last bit: numpy's pairwise sum, scipy's `expit`, scikit-learn's `softmax`.

/// `np.sum` of a contiguous float64 row: sequential below 8 values, eight
/// interleaved accumulators up to 128, halves (cut at a multiple of 8) above.
/// Checked against numpy 2.4 on random rows of every length to 400.
pub fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(0.0, |acc, &v| acc + v);
    }
    if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += v;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    numpy_sum(&a[..half]) + numpy_sum(&a[half..])
}

/// scipy's `expit`: `1 / (1 + exp(-x))`.
pub fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// scikit-learn's `utils.extmath.softmax` on one row: subtract the row's
/// maximum, exponentiate, divide by numpy's sum.
pub fn softmax(row: &[f64]) -> Vec<f64> {
    let max =
        row.iter().copied().fold(f64::NEG_INFINITY, |m, v| if v > m || v.is_nan() { v } else { m });
    let e: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
    let total = numpy_sum(&e);
    e.into_iter().map(|v| v / total).collect()
}

/// `np.argmax`: the first index of the largest value (NaN wins, as in numpy).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if row[best].is_nan() {
            break;
        }
        if v > row[best] || v.is_nan() {
            best = i;
        }
    }
    best
}

/// A dot product summed in index order from 0.0, as scipy's CSR kernels and
/// scikit-learn's Cython loops do (BLAS may order dense sums differently;
/// see docs/models.md).
pub fn dot(x: &[f64], w: &[f64]) -> f64 {
    x.iter().zip(w).fold(0.0, |acc, (a, b)| acc + a * b)
}

/// [`dot`] over a sparse row's entries in column order.
pub fn sparse_dot(x: &[(usize, f64)], w: &[f64]) -> f64 {
    x.iter().fold(0.0, |acc, &(j, a)| acc + a * w[j])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_differs_from_sequential_like_numpy() {
        // Eight accumulators: the 1e16 in slot 0 absorbs only its own 1.0
        // (numpy 2.4 gives 1.0000000000000014e16 too).
        let mut a = vec![1.0; 16];
        a[0] = 1e16;
        assert_eq!(numpy_sum(&a), 1e16 + 14.0);
        assert_eq!(a.iter().fold(0.0, |s, v| s + v), 1e16);
        assert_eq!(numpy_sum(&[1e16, 1.0, 1.0]), 1e16);
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.2, 0.5, 0.5]), 1);
        assert_eq!(argmax(&[0.7]), 0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}
