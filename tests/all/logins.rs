//! Seed 003's demo 2 as a pipeline (`examples/logins.toml`) against the
//! real broker and PostgreSQL: the registration rules case by case, and a
//! password that appears in no topic, table or log.

use crate::broker::{create, produce, read, unique, Wasp};
use crate::postgres::{admin, password_file, server, url};
use std::path::PathBuf;
use std::time::Duration;
use wasp::kafka::admin::Record;
use wasp::router::headers;

/// Fresh names for one run of the example pipeline.
struct Logins {
    input: String,
    dlq: String,
    unrouted: String,
    users: String,
    events: String,
    pipeline: PathBuf,
}

/// `text` with `from` replaced, which must be there: a changed example
/// fails here rather than running something else.
fn swap(text: String, from: &str, to: &str) -> String {
    assert!(text.contains(from), "examples/logins.* no longer has `{from}`");
    text.replace(from, to)
}

/// Tables from examples/logins.sql and a copy of examples/logins.toml,
/// both under names no other test uses.
fn logins(tag: &str) -> Logins {
    let root = crate::common::root();
    let table = |t: &str| unique(&format!("{tag}_{t}")).replace('-', "_");
    let l = Logins {
        input: unique(&format!("{tag}-in")),
        dlq: unique(&format!("{tag}-dlq")),
        unrouted: unique(&format!("{tag}-out")),
        users: table("users"),
        events: table("events"),
        pipeline: crate::common::temp_dir(tag).join("logins.toml"),
    };
    let sql = std::fs::read_to_string(root.join("examples/logins.sql")).unwrap();
    let sql = swap(sql, "exists users (", &format!("exists {} (", l.users));
    let sql = swap(sql, "exists events (", &format!("exists {} (", l.events));
    admin().batch_execute(&sql).unwrap();
    let mut toml = std::fs::read_to_string(root.join("examples/logins.toml")).unwrap();
    for (from, to) in [
        ("\"login-events\"", format!("\"{}\"", l.input)),
        ("\"login-dead-letter\"", format!("\"{}\"", l.dlq)),
        ("\"login-unrouted\"", format!("\"{}\"", l.unrouted)),
        ("name = \"logins\"", format!("name = \"{}\"", unique(tag))),
        ("table = \"users\"", format!("table = \"{}\"", l.users)),
        ("table = \"events\"", format!("table = \"{}\"", l.events)),
        ("postgres://wasp@127.0.0.1:5432/wasp", url()),
        ("../.wasp/postgres/password", password_file().display().to_string()),
        ("\"../plugins/dist/", format!("\"{}/", root.join("plugins/dist").display())),
    ] {
        toml = swap(toml, from, &to);
    }
    toml.push_str(
        "\n[kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
    );
    std::fs::write(&l.pipeline, toml).unwrap();
    create(&[&l.input], 3);
    create(&[&l.dlq, &l.unrouted], 1);
    l
}

fn event(kind: &str, username: &str, password: Option<&str>) -> Vec<u8> {
    let mut e = serde_json::json!({"event_type": kind, "username": username,
                                   "timestamp": "2024-10-29T21:10:00Z"});
    if let Some(p) = password {
        e["password"] = p.into();
    }
    e.to_string().into_bytes()
}

fn registration(username: &str, password: &str) -> Vec<u8> {
    event("new_user_created", username, Some(password))
}

/// Produce `records` (key = case name), run the pipeline over them, and
/// return the run's log.
fn run(l: &Logins, records: &[(String, Vec<u8>)], env: &[(&str, &str)]) -> String {
    produce(&l.input, records, None);
    Wasp::start_with_env(&l.pipeline, &["--max-records", &records.len().to_string()], "run", env)
        .wait_ok(Duration::from_secs(180))
}

fn header(r: &Record, name: &str) -> String {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

#[test]
fn seed_003_rules_case_by_case_valid_events_stored_invalid_ones_dead_lettered_with_the_rule() {
    let _pg = server();
    let l = logins("logrules");
    // (case, event, the reason it is dead-lettered with; None: stored)
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("valid", registration("sneha", "Kafka#2024"), None),
        ("shortest", registration("abcd", "Aa1!aaaa"), None),
        ("longest", registration("abcdefghijklmno", "Zz9$zzzzzzzzzzzz"), None),
        ("failed-login", event("incorrect_password", "sneha", None), None),
        ("user-3", registration("abc", "Kafka#2024"), Some("username must be 4 to 15 characters")),
        (
            "user-16",
            registration("abcdefghijklmnop", "Kafka#2024"),
            Some("username must be 4 to 15 characters"),
        ),
        (
            "user-underscore",
            registration("ada_1815", "Kafka#2024"),
            Some("username must hold only letters and digits"),
        ),
        (
            "user-space",
            registration("ada 1815", "Kafka#2024"),
            Some("username must hold only letters and digits"),
        ),
        ("pw-7", registration("grace", "Aa1!aaa"), Some("password must be at least 8 characters")),
        ("pw-upper", registration("grace", "aa1!aaaa"), Some("password needs an uppercase letter")),
        ("pw-lower", registration("grace", "AA1!AAAA"), Some("password needs a lowercase letter")),
        ("pw-digit", registration("grace", "Aa!aaaaa"), Some("password needs a digit")),
        (
            "pw-special",
            registration("grace", "Aa1aaaaa"),
            Some("password needs a special character"),
        ),
        (
            "failed-login-bad-user",
            event("incorrect_password", "x", None),
            Some("username must be 4 to 15 characters"),
        ),
        (
            "no-password",
            event("new_user_created", "grace", None),
            Some("a new_user_created event needs a password (a string)"),
        ),
        (
            "unknown-type",
            event("logout", "sneha", None),
            Some("unknown event_type 'logout': expected new_user_created or incorrect_password"),
        ),
    ];
    let records: Vec<(String, Vec<u8>)> =
        cases.iter().map(|(k, v, _)| (k.to_string(), v.clone())).collect();
    run(&l, &records, &[]);

    let mut db = admin();
    let users: Vec<(String, String)> = db
        .query(&format!("select username, password_hash from {} order by username", l.users), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let names: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["abcd", "abcdefghijklmno", "sneha"]);
    for ((user, hash), password) in users.iter().zip(["Aa1!aaaa", "Zz9$zzzzzzzzzzzz", "Kafka#2024"])
    {
        assert!(hash.starts_with("$2b$12$"), "{user}: {hash}");
        assert!(bcrypt::verify(password, hash).unwrap(), "{user}'s hash does not verify");
    }
    let events: Vec<(String, String)> = db
        .query(
            &format!("select username, event_type from {} order by event_type, username", l.events),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want = [
        ("sneha", "incorrect_password"),
        ("abcd", "new_user_created"),
        ("abcdefghijklmno", "new_user_created"),
        ("sneha", "new_user_created"),
    ];
    let events: Vec<(&str, &str)> = events.iter().map(|(u, e)| (u.as_str(), e.as_str())).collect();
    assert_eq!(events, want);

    let dead = read(&l.dlq, Duration::from_secs(2));
    let mut got: Vec<(String, String)> = dead
        .iter()
        .map(|r| {
            (
                String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
                header(r, headers::REASON),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = cases
        .iter()
        .filter_map(|(k, _, why)| why.map(|w| (k.to_string(), w.to_string())))
        .collect();
    want.sort();
    assert_eq!(got, want, "every invalid event dead-lettered once, with the rule it broke");
    for r in &dead {
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert!(v.get("password").is_none(), "the dead letter kept the password: {v}");
        assert!(v.get("username").is_some(), "the dead letter lost the rest of the event: {v}");
    }
    assert!(read(&l.unrouted, Duration::from_secs(1)).is_empty(), "every output went to a table");
}

#[test]
fn a_password_appears_in_no_topic_table_or_log() {
    let _pg = server();
    let l = logins("logsecret");
    // Each password is distinctive, so finding it anywhere is a leak.
    let secrets =
        ["Tr0ub4dor&3xQ", "C0rrect#Horse", "weakpw4leak", "Wr0ng#Guess77", "Pl41n!Text99"];
    let records: Vec<(String, Vec<u8>)> = vec![
        ("stored".into(), registration("alice", secrets[0])),
        ("stored-too".into(), registration("bob1", secrets[1])),
        // Invalid: dead-lettered (the password is redacted from the copy).
        ("weak".into(), registration("carol", secrets[2])),
        // A failed login carrying the password typed: the event is stored, the password not.
        ("typed".into(), event("incorrect_password", "alice", Some(secrets[3]))),
        // Not JSON: dead-lettered without its value, which cannot be searched.
        ("garbled".into(), format!("username=dave password={}", secrets[4]).into_bytes()),
    ];
    // The most verbose log wasp writes.
    let log = run(&l, &records, &[("WASP_LOG", "debug")]);

    let mut db = admin();
    let mut rows = Vec::new();
    for t in [&l.users, &l.events] {
        for r in db.query(&format!("select t::text from {t} t"), &[]).unwrap() {
            rows.push(r.get::<_, String>(0));
        }
    }
    assert_eq!(rows.len(), 2 + 3, "two users and three events stored: {rows:?}");
    let mut topics = Vec::new();
    for t in [&l.dlq, &l.unrouted] {
        for r in read(t, Duration::from_secs(2)) {
            let mut text = format!("{:?}", r.headers);
            for bytes in [&r.key, &r.value].into_iter().flatten() {
                text.push_str(&String::from_utf8_lossy(bytes));
            }
            topics.push(text);
        }
    }
    assert_eq!(topics.len(), 2, "the weak and the garbled events dead-lettered: {topics:?}");
    for s in secrets {
        for (what, text) in [
            ("a table row", rows.join("\n")),
            ("a topic", topics.join("\n")),
            ("the log", log.clone()),
        ] {
            assert!(!text.contains(s), "the password {s} is in {what}:\n{text}");
        }
    }
    assert!(log.len() > 1000, "the debug log is suspiciously short:\n{log}");
}

#[test]
fn wasp_test_shows_each_table_s_rows_and_dead_letters_without_the_password() {
    // `wasp test` runs the example as it is: no broker, no database.
    let root = crate::common::root();
    let dir = crate::common::temp_dir("logtest");
    let pipeline = dir.join("logins.toml");
    let toml = std::fs::read_to_string(root.join("examples/logins.toml")).unwrap();
    let toml =
        swap(toml, "\"../plugins/dist/", &format!("\"{}/", root.join("plugins/dist").display()));
    // A cheap cost: this test is about routing, not hashing.
    std::fs::write(&pipeline, swap(toml, "cost = 12", "cost = 4")).unwrap();
    let input = dir.join("events.jsonl");
    let events = [registration("sneha", "Kafka#2024"), registration("bob", "Secret#123")];
    std::fs::write(&input, events.map(|e| String::from_utf8(e).unwrap() + "\n").concat()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasp"))
        .args(["test", pipeline.to_str().unwrap(), "--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        (lines[0]["table"].as_str(), lines[0]["value"]["username"].as_str()),
        (Some("users"), Some("sneha"))
    );
    assert!(lines[0]["value"]["password_hash"].as_str().unwrap().starts_with("$2b$04$"));
    assert_eq!(lines[1]["table"], "events");
    assert_eq!(
        lines[1]["value"],
        serde_json::json!({"event_type": "new_user_created", "username": "sneha", "timestamp": "2024-10-29T21:10:00Z"})
    );
    assert_eq!(lines[2]["topic"], "login-dead-letter");
    assert_eq!(lines[2]["reason"], "username must be 4 to 15 characters");
    assert_eq!(lines[2]["value"]["username"], "bob");
    assert!(!stdout.contains("Secret#123") && !stdout.contains("Kafka#2024"), "{stdout}");
}

#[test]
fn a_registration_of_a_taken_username_stores_neither_row_and_is_dead_lettered_with_the_reason() {
    let _pg = server();
    let l = logins("logdup");
    run(
        &l,
        &[
            ("first".into(), registration("sneha", "Kafka#2024")),
            ("login".into(), event("incorrect_password", "sneha", None)),
        ],
        &[],
    );
    // The same consumer group goes on after the first run's commits.
    run(&l, &[("again".into(), registration("sneha", "Other#2025"))], &[]);

    let mut db = admin();
    let count = |db: &mut postgres::Client, t: &str| -> i64 {
        db.query_one(&format!("select count(*) from {t}"), &[]).unwrap().get(0)
    };
    assert_eq!(count(&mut db, &l.users), 1, "the taken username was stored twice");
    // Its `users` row was refused, so its `events` row, written in the same
    // transaction, is not stored either.
    let events: Vec<String> = db
        .query(&format!("select event_type from {} order by event_type", l.events), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ["incorrect_password", "new_user_created"]);
    let dead = read(&l.dlq, Duration::from_secs(2));
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].key.as_deref(), Some(&b"again"[..]));
    assert_eq!(header(&dead[0], headers::KIND), "sink");
    assert_eq!(header(&dead[0], headers::STAGE), "tables.users");
    let reason = header(&dead[0], headers::REASON);
    assert!(reason.contains("duplicate key value violates unique constraint"), "{reason}");
    let v: serde_json::Value = serde_json::from_slice(dead[0].value.as_deref().unwrap()).unwrap();
    assert!(v.get("password").is_none(), "the dead letter kept the password: {v}");
}
