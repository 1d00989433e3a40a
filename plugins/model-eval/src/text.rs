//! `CountVectorizer`, `TfidfVectorizer` and `TfidfTransformer` with the word
//! analyzer and the default token pattern.
//!
//! scikit-learn tokenizes with Python's `re.findall(r"(?u)\b\w\w+\b", doc)`
//! after `doc.lower()`. Python's `\w` is "alphanumeric or underscore", where
//! alphanumeric means the letter categories (Lu Ll Lt Lm Lo) or a numeric
//! character (Nd Nl No); combining marks are not word characters (Rust's
//! `\w` counts them, so it cannot be used). With `\b` at both ends and a
//! greedy `\w\w+`, the tokens are exactly the maximal runs of such
//! characters that are at least two long, which is what [`TOKEN`] matches.
use crate::value::Data;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Python's `\w\w+` run, without `\b` (see the module docs).
pub const TOKEN: &str = r"[\p{L}\p{N}_]{2,}";

fn token_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(TOKEN).expect("the token pattern compiles"))
}

/// Python's `str.lower()`; Rust's `to_lowercase` applies the same Unicode
/// full case mapping, including the final-sigma rule Python also applies.
pub fn lower(text: &str) -> String {
    text.to_lowercase()
}

/// Tokens of a document, as `build_tokenizer()` returns them.
pub fn tokens(doc: &str) -> Vec<&str> {
    token_regex().find_iter(doc).map(|m| m.as_str()).collect()
}

/// `_word_ngrams`: stop words removed, then every n-gram for n in the range,
/// unigrams first, words joined by one space.
pub fn word_ngrams(
    tokens: Vec<&str>,
    stop_words: &[String],
    (min_n, max_n): (usize, usize),
) -> Vec<String> {
    let tokens: Vec<&str> =
        tokens.into_iter().filter(|t| !stop_words.iter().any(|s| s == t)).collect();
    let mut out = Vec::new();
    for n in min_n..=max_n.min(tokens.len()) {
        for window in tokens.windows(n) {
            out.push(window.join(" "));
        }
    }
    out
}

/// The tf-idf weighting of a `TfidfTransformer` (standalone or inside a
/// `TfidfVectorizer`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tfidf {
    /// `sublinear_tf`: tf becomes `log(tf) + 1`.
    pub sublinear_tf: bool,
    /// `idf_`, or `null` when `use_idf=False`.
    pub idf: Option<Vec<f64>>,
    /// `"l2"`, `"l1"` or `null`.
    pub norm: Option<Norm>,
}

/// Row normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Divide by the square root of the sum of squares.
    L2,
    /// Divide by the sum of absolute values.
    L1,
}

impl Tfidf {
    /// Weight one sparse row (entries in column order).
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let (mut entries, width) = match x {
            Data::Sparse(e, w) => (e, w),
            other => {
                let dense = other.into_dense("TfidfTransformer")?;
                let w = dense.len();
                (dense.into_iter().enumerate().filter(|(_, v)| *v != 0.0).collect(), w)
            }
        };
        if self.sublinear_tf {
            entries.iter_mut().for_each(|(_, v)| *v = v.ln() + 1.0);
        }
        if let Some(idf) = &self.idf {
            if idf.len() != width {
                return Err(format!(
                    "TfidfTransformer: fitted on {} terms, given {width}",
                    idf.len()
                ));
            }
            entries.iter_mut().for_each(|(j, v)| *v *= idf[*j]);
        }
        // sklearn.utils.sparsefuncs_fast: sums in entry order, then divides;
        // an all-zero row is left alone.
        let total = match self.norm {
            Some(Norm::L2) => entries.iter().fold(0.0, |s, (_, v)| s + v * v).sqrt(),
            Some(Norm::L1) => entries.iter().fold(0.0, |s, (_, v)| s + v.abs()),
            None => 0.0,
        };
        if total != 0.0 {
            entries.iter_mut().for_each(|(_, v)| *v /= total);
        }
        Ok(Data::Sparse(entries, width))
    }
}

/// `CountVectorizer` (or `TfidfVectorizer` with `tfidf` set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vectorizer {
    /// `lowercase`.
    pub lowercase: bool,
    /// `ngram_range`.
    pub ngram_range: (usize, usize),
    /// The effective stop-word list (`get_stop_words()`), empty for none.
    pub stop_words: Vec<String>,
    /// `vocabulary_`.
    pub vocabulary: HashMap<String, usize>,
    /// `binary`: counts become 1.
    pub binary: bool,
    /// The tf-idf step of a `TfidfVectorizer`.
    pub tfidf: Option<Tfidf>,
}

impl Vectorizer {
    /// Check the vocabulary indexes are a permutation of `0..n`.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.vocabulary.len();
        let mut seen = vec![false; n];
        for &j in self.vocabulary.values() {
            if j >= n || std::mem::replace(&mut seen[j], true) {
                return Err(format!("vocabulary index {j} is out of range or repeated"));
            }
        }
        if self.ngram_range.0 < 1 || self.ngram_range.0 > self.ngram_range.1 {
            return Err(format!("bad ngram_range {:?}", self.ngram_range));
        }
        Ok(())
    }

    /// Count (and weight) one document.
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let doc = match x {
            Data::Text(t) => t,
            Data::Cells(mut c) if c.len() == 1 => match c.pop() {
                Some(crate::value::Cell::Str(s)) => s,
                other => return Err(format!("vectorizer: expects text, got {other:?}")),
            },
            other => {
                return Err(format!(
                    "vectorizer: expects one text column, got {} columns",
                    other.width()
                ))
            }
        };
        let doc = if self.lowercase { lower(&doc) } else { doc };
        let mut counts: HashMap<usize, f64> = HashMap::new();
        for gram in word_ngrams(tokens(&doc), &self.stop_words, self.ngram_range) {
            if let Some(&j) = self.vocabulary.get(&gram) {
                *counts.entry(j).or_insert(0.0) += 1.0;
            }
        }
        let mut entries: Vec<(usize, f64)> = counts.into_iter().collect();
        entries.sort_unstable_by_key(|e| e.0);
        if self.binary {
            entries.iter_mut().for_each(|e| e.1 = 1.0);
        }
        let row = Data::Sparse(entries, self.vocabulary.len());
        match &self.tfidf {
            Some(t) => t.transform(row),
            None => Ok(row),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_python_word_characters() {
        assert_eq!(tokens("it's a café, naïve 42 x_y"), ["it", "café", "naïve", "42", "x_y"]);
        // A combining acute accent is not a word character in Python: it
        // splits "cafe\u{301}s" into "cafe" and "s" (too short).
        assert_eq!(tokens("cafe\u{301}s ok"), ["cafe", "ok"]);
        // Superscript two is numeric (No) and so a word character.
        assert_eq!(tokens("m² x²"), ["m²", "x²"]);
        assert_eq!(tokens("日本語のテキスト"), ["日本語のテキスト"]);
    }

    #[test]
    fn lowercase_is_pythons() {
        // Python 3.11: "ΣΟΦΟΣ".lower() == "σοφος" (final sigma), and
        // "İ".lower() is "i" plus U+0307, a combining mark that splits tokens.
        assert_eq!(lower("ΣΟΦΟΣ ΤΕΛΟΣ"), "σοφος τελος");
        assert_eq!(tokens(&lower("İstanbul")), ["stanbul"]);
    }

    #[test]
    fn ngrams_follow_word_ngrams() {
        let stop = vec!["the".to_string()];
        assert_eq!(
            word_ngrams(vec!["the", "a", "b", "c"], &stop, (1, 2)),
            ["a", "b", "c", "a b", "b c"]
        );
        assert_eq!(word_ngrams(vec!["a", "b"], &[], (2, 3)), ["a b"]);
        assert!(word_ngrams(vec!["a"], &[], (2, 2)).is_empty());
    }
}
