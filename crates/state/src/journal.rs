//! The journal format: one line per [`JournalEntry`],
//! `<crc32 of the json, 8 lowercase hex> <json>\n`.
//!
//! The JSON is the entry's serial plus its change, tagged by `op`:
//! ```text
//! {"serial":7,"op":"put","address":"cluster.a","cloud_name":"a",...ResourceState}
//! {"serial":8,"op":"intent","address":"cluster.b","operation":"create",...Intent}
//! {"serial":9,"op":"remove","address":"cluster.a"}
//! {"serial":10,"op":"clear_intent","address":"cluster.b"}
//! ```
//! This is the serde form of `fedstack_core::state::JournalEntry`.

use std::path::Path;

use fedstack_core::state::{JournalEntry, StateSnapshot};

use crate::error::StateError;

/// Bytes before the JSON: 8 hex digits and a space.
const PREFIX_LEN: usize = 9;

/// Appends one encoded line for `entry` to `buf`.
pub fn encode_entry(entry: &JournalEntry, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let start = buf.len();
    buf.extend_from_slice(b"00000000 ");
    serde_json::to_writer(&mut *buf, entry)?;
    let crc = crc32fast::hash(&buf[start + PREFIX_LEN..]);
    let hex = format!("{crc:08x}");
    buf[start..start + 8].copy_from_slice(hex.as_bytes());
    buf.push(b'\n');
    Ok(())
}

/// Decodes one line (without its newline).
fn decode_line(line: &[u8]) -> Result<JournalEntry, String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    if line.len() <= PREFIX_LEN || line[8] != b' ' {
        return Err("not a `<crc32> <json>` line".into());
    }
    let hex = &line[..8];
    if !hex
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err("the checksum is not 8 lowercase hex digits".into());
    }
    let expected = std::str::from_utf8(hex)
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| "the checksum is not 8 lowercase hex digits".to_string())?;
    let json = &line[PREFIX_LEN..];
    let actual = crc32fast::hash(json);
    if actual != expected {
        return Err(format!(
            "checksum mismatch (line says {expected:08x}, content is {actual:08x})"
        ));
    }
    serde_json::from_slice::<JournalEntry>(json)
        .map_err(|e| format!("the entry cannot be parsed: {e}"))
}

/// A damaged end of the journal: everything from `offset` to the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// 1-based number of the first damaged line.
    pub line: usize,
    /// Byte offset where the damage starts (= length of the intact prefix).
    pub offset: usize,
    /// Number of damaged bytes.
    pub len: usize,
    pub reason: String,
}

/// The result of reading a journal.
#[derive(Debug, Default)]
pub struct Scan {
    /// Intact entries with their 1-based line numbers.
    pub entries: Vec<(usize, JournalEntry)>,
    pub torn: Option<TornTail>,
}

/// Splits a journal into intact entries and an optional torn tail. A damaged line
/// followed by an intact one is corruption and an error.
pub fn scan(bytes: &[u8], path: &Path) -> Result<Scan, StateError> {
    let mut scan = Scan::default();
    let mut first_bad: Option<TornTail> = None;
    let mut pos = 0;
    let mut line_no = 0;
    while pos < bytes.len() {
        line_no += 1;
        let newline = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i);
        let end = newline.unwrap_or(bytes.len());
        let decoded = match newline {
            Some(_) => decode_line(&bytes[pos..end]),
            None => Err("the last line is incomplete (no newline: an interrupted write)".into()),
        };
        match (decoded, &first_bad) {
            (Ok(entry), None) => scan.entries.push((line_no, entry)),
            (Ok(_), Some(bad)) => {
                return Err(StateError::JournalCorrupt {
                    path: path.to_path_buf(),
                    line: bad.line,
                    reason: format!(
                        "{} (and intact lines follow it, e.g. line {line_no})",
                        bad.reason
                    ),
                });
            }
            (Err(reason), None) => {
                first_bad = Some(TornTail {
                    line: line_no,
                    offset: pos,
                    len: bytes.len() - pos,
                    reason,
                });
            }
            (Err(_), Some(_)) => {}
        }
        pos = end + 1;
    }
    scan.torn = first_bad;
    Ok(scan)
}

/// Replays intact entries onto `snapshot`. Entries the snapshot already contains
/// (left over when a compaction was interrupted before the journal was truncated) are
/// skipped; after that, serials must continue the snapshot one by one.
/// Returns how many entries were applied.
pub fn replay(
    snapshot: &mut StateSnapshot,
    entries: &[(usize, JournalEntry)],
    path: &Path,
) -> Result<usize, StateError> {
    let mut applied = 0;
    for (line, entry) in entries {
        let expected = snapshot.serial + 1;
        if entry.serial == expected {
            snapshot.apply(entry);
            applied += 1;
        } else if entry.serial < expected && applied == 0 {
            // Already part of the snapshot.
        } else {
            let reason = if entry.serial > expected {
                format!(
                    "the entry has serial {} but the state is at serial {} (entries are missing: the journal does not continue snapshot.json)",
                    entry.serial, snapshot.serial
                )
            } else {
                format!(
                    "the entry has serial {} but serial {} was already replayed (serials must increase)",
                    entry.serial, snapshot.serial
                )
            };
            return Err(StateError::JournalCorrupt {
                path: path.to_path_buf(),
                line: *line,
                reason,
            });
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedstack_core::address::{Address, ResourceKind};
    use fedstack_core::state::{Intent, ResourceState, StateChange};

    fn entry(serial: u64, name: &str) -> JournalEntry {
        JournalEntry {
            serial,
            change: StateChange::Remove {
                address: Address::new(ResourceKind::Data, name),
            },
        }
    }

    fn encode(entries: &[JournalEntry]) -> Vec<u8> {
        let mut buf = Vec::new();
        for e in entries {
            encode_entry(e, &mut buf).expect("encodes");
        }
        buf
    }

    fn put(serial: u64, name: &str) -> JournalEntry {
        JournalEntry {
            serial,
            change: StateChange::Put(Box::new(ResourceState {
                address: Address::new(ResourceKind::Cluster, name),
                cloud: Some("gcp".into()),
                cloud_name: name.into(),
                attrs: [("size".to_string(), serde_json::json!(3))]
                    .into_iter()
                    .collect(),
                outputs: Default::default(),
                sensitive: Default::default(),
                depends_on: vec![Address::new(ResourceKind::Data, "x")],
            })),
        }
    }

    fn json_of(entry: &JournalEntry) -> String {
        let mut buf = Vec::new();
        encode_entry(entry, &mut buf).expect("encodes");
        let line = String::from_utf8(buf).expect("utf-8");
        line[PREFIX_LEN..line.len() - 1].to_string()
    }

    #[test]
    fn every_change_kind_round_trips() {
        let intent = Intent {
            address: Address::new(ResourceKind::Cluster, "b"),
            operation: fedstack_core::state::IntentOperation::Create,
            cloud: None,
            cloud_name: "b".into(),
            attrs: Default::default(),
            depends_on: vec![],
            started_at: 1_700_000_000,
        };
        let entries = vec![
            put(1, "a"),
            JournalEntry {
                serial: 2,
                change: StateChange::Intent(intent),
            },
            entry(3, "a"),
            JournalEntry {
                serial: 4,
                change: StateChange::ClearIntent {
                    address: Address::new(ResourceKind::Cluster, "b"),
                },
            },
        ];
        let buf = encode(&entries);
        let back: Vec<JournalEntry> = scan(&buf, Path::new("j"))
            .expect("scans")
            .entries
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        assert_eq!(back, entries);
        assert_eq!(
            json_of(&entries[2]),
            r#"{"serial":3,"op":"remove","address":"data.a"}"#
        );
        assert_eq!(
            json_of(&entries[3]),
            r#"{"serial":4,"op":"clear_intent","address":"cluster.b"}"#
        );
    }

    #[test]
    fn put_and_intent_lines_match_the_core_serde_form() {
        let e = put(5, "a");
        assert_eq!(
            json_of(&e),
            serde_json::to_string(&e).expect("core serializes put")
        );
    }

    #[test]
    fn lines_have_crc_prefix_and_round_trip() {
        let buf = encode(&[entry(1, "a"), entry(2, "b")]);
        let text = String::from_utf8(buf.clone()).expect("utf-8");
        let first = text.lines().next().expect("a line");
        let (crc, json) = first.split_once(' ').expect("space");
        assert_eq!(crc.len(), 8);
        assert_eq!(crc, format!("{:08x}", crc32fast::hash(json.as_bytes())));
        assert!(text.ends_with('\n'));
        let scan = scan(&buf, Path::new("j")).expect("scans");
        assert!(scan.torn.is_none());
        let serials: Vec<u64> = scan.entries.iter().map(|(_, e)| e.serial).collect();
        assert_eq!(serials, vec![1, 2]);
        assert_eq!(scan.entries[1].0, 2);
    }

    #[test]
    fn incomplete_last_line_is_torn() {
        let mut buf = encode(&[entry(1, "a"), entry(2, "b")]);
        let full = buf.len();
        buf.truncate(full - 5);
        let scan = scan(&buf, Path::new("j")).expect("scans");
        assert_eq!(scan.entries.len(), 1);
        let torn = scan.torn.expect("torn");
        assert_eq!(torn.line, 2);
        assert_eq!(torn.offset + torn.len, buf.len());
        assert!(torn.reason.contains("incomplete"), "{}", torn.reason);
    }

    #[test]
    fn uppercase_or_bad_checksums_are_rejected() {
        // Find an entry whose checksum has a hex letter, then write it in uppercase.
        let (json, crc) = (0..100)
            .map(|i| json_of(&entry(1, &format!("n{i}"))))
            .map(|json| {
                let crc = crc32fast::hash(json.as_bytes());
                (json, crc)
            })
            .find(|(_, crc)| {
                format!("{crc:08x}")
                    .bytes()
                    .any(|b| b.is_ascii_alphabetic())
            })
            .expect("some checksum has a letter");
        let upper = format!("{crc:08X} {json}\n");
        let torn = scan(upper.as_bytes(), Path::new("j"))
            .expect("scans")
            .torn
            .expect("torn");
        assert!(torn.reason.contains("lowercase"), "{}", torn.reason);
        let lower = format!("{crc:08x} {json}\n");
        assert!(scan(lower.as_bytes(), Path::new("j"))
            .expect("scans")
            .torn
            .is_none());

        let mut bad = encode(&[entry(1, "a")]);
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        let torn = scan(&bad, Path::new("j"))
            .expect("scans")
            .torn
            .expect("torn");
        assert!(torn.reason.contains("checksum mismatch"), "{}", torn.reason);
    }

    #[test]
    fn bad_line_followed_by_good_is_corruption() {
        let mut buf = encode(&[entry(1, "a")]);
        buf.extend_from_slice(b"garbage\n");
        buf.extend(encode(&[entry(2, "b")]));
        let err = scan(&buf, Path::new("/x/journal.log")).expect_err("corrupt");
        match err {
            StateError::JournalCorrupt { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn replay_skips_compacted_entries_and_rejects_gaps() {
        let mut snap = StateSnapshot::new("s", "l".into());
        snap.serial = 2;
        let entries: Vec<(usize, JournalEntry)> =
            (1..=4).map(|s| (s as usize, entry(s, "a"))).collect();
        assert_eq!(
            replay(&mut snap, &entries, Path::new("j")).expect("replays"),
            2
        );
        assert_eq!(snap.serial, 4);

        let mut snap = StateSnapshot::new("s", "l".into());
        let gap = vec![(1, entry(1, "a")), (2, entry(3, "a"))];
        match replay(&mut snap, &gap, Path::new("j")) {
            Err(StateError::JournalCorrupt {
                line: 2, reason, ..
            }) => assert!(reason.contains("missing")),
            other => panic!("unexpected {other:?}"),
        }

        let mut snap = StateSnapshot::new("s", "l".into());
        let backwards = vec![(1, entry(1, "a")), (2, entry(2, "a")), (3, entry(2, "a"))];
        assert!(matches!(
            replay(&mut snap, &backwards, Path::new("j")),
            Err(StateError::JournalCorrupt { line: 3, .. })
        ));
    }
}
