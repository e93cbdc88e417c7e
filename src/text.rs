//! Text limits: cutting a message to a byte budget without splitting a character.

/// `s` cut to at most `max` bytes, on a character boundary.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_to_its_byte_limit_on_a_character_boundary() {
        // 'é' is two bytes: 999 of them would be 1998 bytes; the cut may not split one.
        let note = truncate("é".repeat(999), 1000);
        assert_eq!(note.len(), 1000);
        assert!(note.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short".into(), 1000), "short");
    }
}
