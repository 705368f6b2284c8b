//! The two marker lines of the output file and putting the generated tables
//! between them.

use anyhow::{Result, bail};

/// The line after which the generated part starts.
pub const BEGIN: &str = "<!-- bench:begin -->";
/// The line before which the generated part ends.
pub const END: &str = "<!-- bench:end -->";

/// Puts `generated` between the marker lines of `existing`, keeping everything
/// outside them. Without markers the block is appended; without a file, one
/// is started with a title.
pub fn splice(existing: Option<&str>, generated: &str) -> Result<String> {
    let block = format!("{BEGIN}\n{generated}{END}\n");
    let Some(text) = existing else {
        return Ok(format!(
            "# rtchat performance\n\nThe tables below are written by `bench/run`; edit only outside the bench markers.\n\n{block}"
        ));
    };
    match (marker_line(text, BEGIN), marker_line(text, END)) {
        (Some((begin, _)), Some((end_start, end))) if begin < end_start => {
            Ok(format!("{}{block}{}", &text[..begin], &text[end..]))
        }
        (None, None) if text.is_empty() || text.ends_with("\n\n") => Ok(format!("{text}{block}")),
        (None, None) if text.ends_with('\n') => Ok(format!("{text}\n{block}")),
        (None, None) => Ok(format!("{text}\n\n{block}")),
        _ => bail!("the file has only one of the lines {BEGIN} and {END}, or has them out of order"),
    }
}

/// Where the line holding only `marker` starts and ends (after its newline).
fn marker_line(text: &str, marker: &str) -> Option<(usize, usize)> {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == marker {
            return Some((start, start + line.len()));
        }
        start += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_starts_with_a_title_and_the_markers() {
        let text = splice(None, "table\n").unwrap();
        assert!(text.starts_with("# rtchat performance\n"));
        assert!(text.ends_with(&format!("{BEGIN}\ntable\n{END}\n")));
    }

    #[test]
    fn only_the_part_between_the_markers_is_replaced() {
        let old =
            format!("# Perf\n\nIntro, mentioning `{BEGIN}` inline.\n\n{BEGIN}\nold\nrows\n{END}\n\nOutro.\n");
        let new = splice(Some(&old), "new\n").unwrap();
        assert_eq!(
            new,
            format!("# Perf\n\nIntro, mentioning `{BEGIN}` inline.\n\n{BEGIN}\nnew\n{END}\n\nOutro.\n")
        );
        // Running again with the same content changes nothing.
        assert_eq!(splice(Some(&new), "new\n").unwrap(), new);
    }

    #[test]
    fn a_file_without_markers_gets_them_appended() {
        assert_eq!(splice(Some("# Perf\n"), "t\n").unwrap(), format!("# Perf\n\n{BEGIN}\nt\n{END}\n"));
        assert_eq!(splice(Some("# Perf"), "t\n").unwrap(), format!("# Perf\n\n{BEGIN}\nt\n{END}\n"));
    }

    #[test]
    fn broken_markers_are_an_error_not_a_clobbered_file() {
        assert!(splice(Some(&format!("a\n{END}\n")), "t\n").is_err());
        assert!(splice(Some(&format!("{END}\n{BEGIN}\n")), "t\n").is_err());
    }
}
