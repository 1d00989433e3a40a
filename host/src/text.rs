//! Text a plugin sent, kept to a size the host can afford to log or put in
//! a header.

/// Cut `text` to at most `max` bytes, on a character boundary, and append
/// `mark` when anything was cut.
pub fn cut(text: &mut String, max: usize, mark: &str) {
    if text.len() <= max {
        return;
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str(mark);
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_on_a_character_boundary_and_marks_it() {
        let mut s = "abc".to_string();
        cut(&mut s, 3, "…");
        assert_eq!(s, "abc");
        let mut s = "aé".to_string(); // 'é' is bytes 1..3
        cut(&mut s, 2, "…");
        assert_eq!(s, "a…");
    }
}
