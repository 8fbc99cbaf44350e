//! Reading the attributes of a [`crate::ResourceSpec`] the way every cloud provider
//! does, and saying durations in messages.

use std::collections::BTreeMap;
use std::time::Duration;

use fedstack_core::value::Values;
use serde_json::Value;

/// A string attribute, when set.
pub fn str_attr<'a>(attrs: &'a Values, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// The `labels` mapping (string values only).
pub fn labels(attrs: &Values) -> BTreeMap<String, String> {
    attrs
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The version the stack asked for, when the cloud runs one of its patches (`1.31` asked,
/// `1.31.9` or `1.31.13-gke.1023000` running: `1.31`, no drift); else what runs.
pub fn version_as_asked(asked: Option<&str>, running: &str) -> String {
    match asked {
        Some(a)
            if running == a
                || running.starts_with(&format!("{a}."))
                || running.starts_with(&format!("{a}-")) =>
        {
            a.to_string()
        }
        _ => running.to_string(),
    }
}

/// `40m`, `90s`, `5ms`: a timeout as a message says it.
pub fn shown(d: Duration) -> String {
    if d.as_secs() >= 60 && d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else if d.as_millis() >= 1000 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_back_as_asked_and_durations_read_well() {
        assert_eq!(version_as_asked(Some("1.31"), "1.31.10"), "1.31");
        assert_eq!(
            version_as_asked(Some("1.31"), "1.31.13-gke.1023000"),
            "1.31"
        );
        assert_eq!(version_as_asked(Some("1.32"), "1.31.10"), "1.31.10");
        assert_eq!(version_as_asked(None, "1.31.10"), "1.31.10");
        assert_eq!(shown(Duration::from_secs(2400)), "40m");
        assert_eq!(shown(Duration::from_secs(90)), "90s");
        assert_eq!(shown(Duration::from_millis(5)), "5ms");
    }
}
