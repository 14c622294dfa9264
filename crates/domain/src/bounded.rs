//! Bounds on what an agent produces, so that no output can make a job unrecordable: every
//! text that reaches Redis or SQL passes through one of these first.
//!
//! SQL is the tightest place: MariaDB's `TEXT` holds 65,535 bytes, PostgreSQL's text refuses
//! NUL, and the store refuses a result over 1 MiB. The defaults stay well under each.

/// The most of an error kept (first line in `last_error`, all of it in `error_stack`).
pub const MAX_ERROR_BYTES: usize = 16 * 1024;
/// The most of one output line kept in the job's log and events.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// The default largest result a job keeps (`AGENTQ_MAX_RESULT_BYTES`).
pub const DEFAULT_MAX_RESULT_BYTES: usize = 256 * 1024;
/// How much of a too-large result is shown in its stand-in.
const PREVIEW_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes (at a character boundary), with a marker saying how
/// much was cut.
pub fn cut(text: String, max: usize) -> String {
    let total = text.len();
    cut_from(text, total, max)
}

/// [`cut`] for `text` that is the start of something `total` bytes long (a line read only in
/// part): the marker counts what was never read too.
pub fn cut_from(mut text: String, total: usize, max: usize) -> String {
    if total <= max && text.len() == total {
        return text;
    }
    let marker = |kept: usize| format!(" … [cut: {} of {total} bytes]", total - kept);
    let keep = text.floor_char_boundary(max.saturating_sub(marker(0).len()).min(text.len()));
    text.truncate(keep);
    text.push_str(&marker(keep));
    text
}

/// An error text that every store can hold: no NUL, at most [`MAX_ERROR_BYTES`].
pub fn error_text(text: &str) -> String {
    cut(text.replace('\0', ""), MAX_ERROR_BYTES)
}

/// A job result (JSON text) of at most `max` bytes: the result itself when it fits, else its
/// [`stand_in`].
pub fn result_json(json: String, max: usize) -> String {
    if json.len() <= max {
        return json;
    }
    stand_in(&json, json.len(), max)
}

/// What stands for a result of `bytes` bytes over the limit `max`, with the start of `text`
/// as a preview: `{"truncated": true, "bytes": <size>, "limit": <max>, "preview": "<start>"}`.
pub fn stand_in(text: &str, bytes: usize, max: usize) -> String {
    let preview = &text[..text.floor_char_boundary(PREVIEW_BYTES.min(max / 2))];
    serde_json::json!({
        "truncated": true,
        "bytes": bytes,
        "limit": max,
        "preview": preview,
    })
    .to_string()
}

/// Whether a result is a stand-in made by [`result_json`].
pub fn is_truncated_result(result: &serde_json::Value) -> bool {
    result.get("truncated") == Some(&serde_json::Value::Bool(true))
        && result.get("preview").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_as_it_is() {
        assert_eq!(cut("hello".into(), 10), "hello");
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary_with_a_marker_and_fits() {
        let text = "é".repeat(1000);
        let out = cut(text, 101);
        assert!(out.len() <= 101, "{}", out.len());
        assert!(out.ends_with("of 2000 bytes]"), "{out}");
        assert!(out.starts_with('é'));
    }

    #[test]
    fn a_line_read_in_part_counts_what_was_never_read() {
        let out = cut_from("abc".repeat(100), 5000, 50);
        assert!(out.len() <= 50, "{out}");
        assert!(out.ends_with("of 5000 bytes]"), "{out}");
        assert_eq!(
            cut_from("short".into(), 900, 100),
            "short … [cut: 895 of 900 bytes]"
        );
    }

    #[test]
    fn an_error_loses_its_nul_bytes_and_fits_mariadb_text() {
        let out = error_text(&format!("bad\0{}", "x".repeat(100_000)));
        assert!(!out.contains('\0'));
        assert!(out.len() <= MAX_ERROR_BYTES);
        assert!(out.starts_with("badx"));
    }

    #[test]
    fn a_result_over_the_limit_becomes_a_marked_stand_in_that_fits() {
        let big = serde_json::json!({"data": "y".repeat(10_000)}).to_string();
        let out = result_json(big.clone(), 4096);
        assert!(out.len() <= 4096);
        let value: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert!(is_truncated_result(&value));
        assert_eq!(value["bytes"], big.len());
        assert!(
            value["preview"]
                .as_str()
                .is_some_and(|p| big.starts_with(p))
        );
        assert_eq!(result_json("{\"ok\":1}".into(), 4096), "{\"ok\":1}");
    }
}
