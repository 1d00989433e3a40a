//! The PostgreSQL sink against the real local server (`scripts/postgres
//! start`, which `scripts/test` runs): mapping checks at start, batched
//! inserts, replays that write nothing twice, rows the database refuses,
//! and a lost connection reported as retriable.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};
use wasp::sinks::health::SinkHealth;
use wasp::sinks::postgres::{Database, RowResult, TableConfig, TableRow};

/// The outage test stops the server: it holds this for writing, every
/// other test for reading.
static SERVER: RwLock<()> = RwLock::new(());

pub(crate) fn server() -> RwLockReadGuard<'static, ()> {
    SERVER.read().unwrap_or_else(|p| p.into_inner())
}

/// The server's URL; `scripts/test` starts the server and sets it.
pub(crate) fn url() -> String {
    std::env::var("WASP_POSTGRES_URL").expect(
        "WASP_POSTGRES_URL is not set: start PostgreSQL with \
         `export WASP_POSTGRES_URL=$(scripts/postgres start) \
         WASP_POSTGRES_PASSWORD_FILE=$(scripts/postgres password-file)` (scripts/test does this)",
    )
}

pub(crate) fn password_file() -> PathBuf {
    std::env::var("WASP_POSTGRES_PASSWORD_FILE")
        .expect(
            "WASP_POSTGRES_PASSWORD_FILE is not set: `scripts/postgres password-file` prints it",
        )
        .into()
}

/// A direct connection for creating tables and reading them back.
pub(crate) fn admin() -> postgres::Client {
    let pw = std::fs::read_to_string(password_file()).expect("reading the password file");
    let mut cfg: postgres::Config = url().parse().unwrap();
    cfg.password(pw.trim_end());
    cfg.connect(postgres::NoTls).expect("connecting to the local PostgreSQL")
}

/// A table name no other test or run uses, created with `columns`.
fn table(tag: &str, columns: &str) -> String {
    let name = crate::broker::unique(tag).replace('-', "_");
    admin().batch_execute(&format!("create table {name} ({columns})")).unwrap();
    name
}

/// The default conflict key's columns.
const ORIGIN: &str = "source_topic text, source_partition integer, source_offset bigint, \
     unique (source_topic, source_partition, source_offset)";

const LOGINS: &str = "id bigserial primary key, username varchar(15) not null \
     check (length(username) >= 4), attempts integer, source_topic text, \
     source_partition integer, source_offset bigint, \
     unique (source_topic, source_partition, source_offset)";

fn config(table: &str, columns: &[(&str, &str)]) -> TableConfig {
    TableConfig {
        url: url(),
        password_env: None,
        password_file: Some(password_file()),
        table: table.to_string(),
        columns: columns.iter().map(|(c, f)| (c.to_string(), f.to_string())).collect(),
        conflict_key: None,
        batch_rows: 500,
        ssl_root_cert: None,
    }
}

fn open(cfg: &TableConfig) -> anyhow::Result<Database> {
    Database::open(&[("logins", cfg)], Path::new("."))
}

fn rows(values: &[Vec<u8>]) -> Vec<TableRow<'_>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| TableRow {
            table: 0,
            topic: "login-events",
            partition: 2,
            offset: i as i64,
            value: v,
        })
        .collect()
}

fn count(table: &str) -> i64 {
    admin().query_one(&format!("select count(*) from {table}"), &[]).unwrap().get(0)
}

#[test]
fn postgres_mapping_mismatch_is_refused_naming_the_column() {
    let _pg = server();
    let t = table("pg_mismatch", LOGINS);
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("username", "username"), ("user_agent", "agent")], "'user_agent'"),
        (&[("attempts", "attempts")], "'username' of table"),
        (&[("username", "username"), ("source_offset", "offset")], "'source_offset'"),
    ];
    for (columns, named) in cases {
        let err = open(&config(&t, columns)).err().expect("a mismatched mapping must be refused");
        assert!(format!("{err:#}").contains(named), "{named} not named in: {err:#}");
    }
    // A conflict key without a unique index: the database's words.
    let mut cfg = config(&t, &[("username", "username")]);
    cfg.conflict_key = Some(vec!["username".into()]);
    let err = open(&cfg).err().expect("a conflict key with no unique index must be refused");
    assert!(format!("{err:#}").contains("no unique or exclusion constraint"), "{err:#}");
    // The same table with a matching mapping opens.
    open(&config(&t, &[("username", "username"), ("attempts", "attempts")])).unwrap();
}

#[test]
fn postgres_batched_insert_stores_every_row_once_even_on_replay() {
    let _pg = server();
    let t = table("pg_batch", LOGINS);
    let cfg = config(&t, &[("username", "/user/name"), ("attempts", "attempts")]);
    let values: Vec<Vec<u8>> = (0..1234)
        .map(|i| format!(r#"{{"user": {{"name": "user{i:05}"}}, "attempts": {}}}"#, i % 7).into())
        .collect();
    let mut sink = open(&cfg).unwrap();
    let results = sink.write(&rows(&values)).unwrap();
    assert!(results.iter().all(|r| *r == RowResult::Stored), "{results:?}");
    assert_eq!(count(&t), 1234);
    let row = admin()
        .query_one(&format!("select username, attempts from {t} where source_offset = 1000"), &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "user01000");
    assert_eq!(row.get::<_, Option<i32>>(1), Some(1000 % 7));

    // A restart replays the same inputs (and one more): only the new one lands.
    let mut again = values.clone();
    again.push(br#"{"user": {"name": "late_user"}}"#.to_vec());
    let mut sink = open(&cfg).unwrap();
    let results = sink.write(&rows(&again)).unwrap();
    assert!(results.iter().all(|r| *r == RowResult::Stored), "{results:?}");
    assert_eq!(count(&t), 1235, "a replay wrote rows twice");
}

#[test]
fn postgres_refused_rows_give_the_database_reason_and_the_rest_are_stored() {
    let _pg = server();
    let t = table("pg_refused", LOGINS);
    let cfg = config(&t, &[("username", "username"), ("attempts", "attempts")]);
    let values: Vec<Vec<u8>> = vec![
        br#"{"username": "alice", "attempts": 1}"#.to_vec(),
        br#"{"username": "bob", "attempts": 2}"#.to_vec(), // check: too short
        br#"{"username": "carol", "attempts": "many"}"#.to_vec(), // not an integer
        br#"{"username": "averyveryverylongname"}"#.to_vec(), // varchar(15)
        br#"{"attempts": 3}"#.to_vec(),                    // username NOT NULL
        b"not json".to_vec(),
        br#"{"username": "dave"}"#.to_vec(),
    ];
    let mut sink = open(&cfg).unwrap();
    let results = sink.write(&rows(&values)).unwrap();
    let reason = |i: usize| match &results[i] {
        RowResult::Refused(why) => why.clone(),
        other => panic!("row {i} was {other:?}: {results:?}"),
    };
    assert_eq!(results[0], RowResult::Stored);
    assert!(reason(1).contains("violates check constraint"), "{}", reason(1));
    assert!(reason(2).contains("invalid input syntax for type integer"), "{}", reason(2));
    assert!(reason(3).contains("value too long for type character varying(15)"), "{}", reason(3));
    assert!(reason(4).contains("null value in column \"username\""), "{}", reason(4));
    assert!(reason(5).contains("not JSON"), "{}", reason(5));
    assert_eq!(results[6], RowResult::Stored);
    let stored: Vec<String> = admin()
        .query(&format!("select username from {t} order by source_offset"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, ["alice", "dave"]);
}

#[test]
fn postgres_tables_of_one_database_are_written_in_one_transaction_and_an_input_all_or_nothing() {
    let _pg = server();
    let users = table("pg_tx_users", &format!("username text not null unique, {ORIGIN}"));
    let events = table("pg_tx_events", &format!("username text not null, event text, {ORIGIN}"));
    let u = config(&users, &[("username", "username")]);
    let e = config(&events, &[("username", "username"), ("event", "event")]);
    let mut db = Database::open(&[("users", &u), ("events", &e)], Path::new(".")).unwrap();
    let values: Vec<Vec<u8>> = ["ada", "grace", "ada", "alan"]
        .iter()
        .map(|n| format!(r#"{{"username": "{n}", "event": "new_user_created"}}"#).into_bytes())
        .collect();
    // Input i produces a `users` row and an `events` row, as in seed 003.
    let values = &values;
    let rows = |inputs: std::ops::Range<usize>| -> Vec<TableRow<'_>> {
        let row = |i: usize, table: usize| TableRow {
            table,
            topic: "login-events",
            partition: 0,
            offset: i as i64,
            value: &values[i],
        };
        inputs.flat_map(|i| [row(i, 0), row(i, 1)]).collect()
    };
    let results = db.write(&rows(0..2)).unwrap();
    assert!(results.iter().all(|r| *r == RowResult::Stored), "{results:?}");
    // Both tables' rows carry the same transaction id.
    let xids: i64 = admin()
        .query_one(
            &format!(
                "select count(distinct x) from (select xmin::text as x from {users} \
                 union all select xmin::text from {events}) t"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(xids, 1, "the batch was not written in one transaction");

    // Input 2 registers a taken name: its `users` row is refused with the
    // database's reason, and its `events` row is withdrawn with it.
    let results = db.write(&rows(2..4)).unwrap();
    match &results[0] {
        RowResult::Refused(why) => assert!(why.contains("duplicate key"), "{why}"),
        other => panic!("the taken name was {other:?}"),
    }
    assert_eq!(results[1..], [RowResult::Withdrawn, RowResult::Stored, RowResult::Stored]);
    let names = |t: &str| -> Vec<String> {
        let q = format!("select username from {t} order by source_offset");
        admin().query(&q, &[]).unwrap().iter().map(|r| r.get(0)).collect()
    };
    assert_eq!(names(&users), ["ada", "grace", "alan"]);
    assert_eq!(
        names(&events),
        ["ada", "grace", "alan"],
        "the refused input's other row was stored"
    );
}

#[test]
fn postgres_lost_connection_is_retriable_and_the_retry_stores_once() {
    let _pg = server();
    let t = table("pg_outage", LOGINS);
    let mut cfg = config(&t, &[("username", "username")]);
    // The connection is named after the table, to be found below.
    cfg.url = format!("{}?application_name={t}", url());
    let values: Vec<Vec<u8>> =
        (0..10).map(|i| format!(r#"{{"username": "user{i:03}"}}"#).into()).collect();
    let mut sink = open(&cfg).unwrap();
    sink.write(&rows(&values[..5])).unwrap();
    // The server drops the sink's connection, as in a server restart.
    let killed: i64 = admin()
        .query_one(
            &format!(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity \
                 where application_name = '{t}'"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "the sink's connection was not found");
    let err = sink.write(&rows(&values)).expect_err("a dropped connection must be reported");
    assert!(err.to_string().contains("unavailable"), "{err}");
    // The caller retries the whole write: the first five are not doubled.
    let health = Arc::new(SinkHealth::new("tables.logins"));
    let results =
        sink.write_retrying(&rows(&values), &|| false, std::slice::from_ref(&health)).unwrap();
    assert!(results.iter().all(|r| *r == RowResult::Stored), "{results:?}");
    assert_eq!(count(&t), 10);
    assert_eq!((health.stored(), health.refused(), health.down()), (10, 0, None));
}

#[test]
fn postgres_password_comes_from_the_environment_or_a_file_never_the_url() {
    let _pg = server();
    let t = table("pg_password", LOGINS);
    let mut cfg = config(&t, &[("username", "username")]);
    cfg.password_file = None;
    let err = open(&cfg).err().expect("no password: the server must refuse");
    assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
    cfg.password_env = Some("WASP_TEST_PG_PASSWORD_UNSET".into());
    let err = open(&cfg).err().expect("an unset variable must be named");
    assert!(format!("{err:#}").contains("WASP_TEST_PG_PASSWORD_UNSET"), "{err:#}");
}

/// The certificate authority of the local server's certificate (`scripts/postgres ca-file`).
fn ca_file() -> PathBuf {
    let out = std::process::Command::new(crate::common::root().join("scripts/postgres"))
        .arg("ca-file")
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn postgres_sslmode_require_verifies_the_server_and_encrypts_the_connection() {
    let _pg = server();
    let t = table("pg_tls", LOGINS);
    let mut cfg = config(&t, &[("username", "username")]);
    cfg.url = format!("{}?sslmode=require&application_name={t}", url());
    // The server's certificate is signed by a local CA, in no system store: refused.
    let err = open(&cfg).err().expect("a server whose certificate cannot be verified");
    assert!(format!("{err:#}").contains("invalid peer certificate"), "{err:#}");
    cfg.ssl_root_cert = Some(ca_file());
    let mut sink = open(&cfg).unwrap();
    let results = sink.write(&rows(&[br#"{"username": "tlsuser"}"#.to_vec()])).unwrap();
    assert_eq!(results, [RowResult::Stored]);
    let row = admin()
        .query_one(
            &format!(
                "select count(*), coalesce(bool_and(s.ssl), false) from pg_stat_ssl s \
                 join pg_stat_activity a using (pid) \
                 where a.application_name = '{t}'"
            ),
            &[],
        )
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1)), (1, true), "not over TLS");
    // A root certificate with TLS turned off is a contradiction, refused.
    cfg.url = format!("{}?sslmode=disable", url());
    let err = open(&cfg).err().expect("ssl_root_cert with sslmode=disable");
    assert!(format!("{err:#}").contains("add sslmode=require"), "{err:#}");
}

/// `[tables.logins]` for a pipeline file, with `topics.output` naming it.
fn tables_toml(table: &str) -> String {
    format!(
        "[tables.logins]\nurl = \"{}\"\npassword_file = \"{}\"\ntable = \"{table}\"\n\
         [tables.logins.columns]\nusername = \"username\"\nattempts = \"attempts\"\n",
        url(),
        password_file().display()
    )
}

fn login_events(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            // Every 10th username is too short for the table's check.
            let name = if i % 10 == 9 { format!("u{}", i % 10) } else { format!("user{i:05}") };
            (i.to_string(), format!(r#"{{"username": "{name}", "attempts": {i}}}"#).into())
        })
        .collect()
}

/// `n` events with distinct valid usernames, keyed by their number.
fn unique_logins(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n).map(|i| (i.to_string(), format!(r#"{{"username": "user{i:05}"}}"#).into())).collect()
}

/// A pipeline in a directory of its own passing `input` through the
/// identity plugin into the `logins` table destination `t`.
fn logins_pipeline(tag: &str, input: &str, dlq: &str, t: &str) -> PathBuf {
    use crate::broker::{pipeline, stage};
    let topics = format!("input = [\"{input}\"]\noutput = \"logins\"\ndead_letter = \"{dlq}\"\n");
    let rest = format!("{}{}", tables_toml(t), stage("pass", "identity", ""));
    pipeline(&crate::common::temp_dir(tag), tag, &topics, &rest)
}

/// Wait until table `t` holds `n` rows, or `within` has passed.
fn wait_for_rows(t: &str, n: i64, within: Duration) {
    let start = Instant::now();
    while count(t) < n && start.elapsed() < within {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn distinct_usernames(t: &str) -> i64 {
    admin().query_one(&format!("select count(distinct username) from {t}"), &[]).unwrap().get(0)
}

#[test]
fn wasp_run_stores_outputs_in_the_table_and_dead_letters_what_the_database_refuses() {
    let _pg = server();
    use crate::broker::*;
    let [input, dlq] = ["pgrun-in", "pgrun-dlq"].map(unique);
    create(&[&input, &dlq], 2);
    let t = table("pg_run", LOGINS);
    const N: usize = 300;
    produce(&input, &login_events(N), None);
    let dir = crate::common::temp_dir("pgrun");
    let topics = format!("input = [\"{input}\"]\noutput = \"logins\"\ndead_letter = \"{dlq}\"\n");
    let rest = format!("{}{}", tables_toml(&t), stage("pass", "identity", ""));
    let p = pipeline(&dir, "pgrun", &topics, &rest);
    Wasp::start(&p, &["--max-records", &N.to_string()], "run").wait_ok(Duration::from_secs(120));

    assert_eq!(count(&t), (N - N / 10) as i64, "every accepted row stored once");
    let dead = read(&dlq, Duration::from_secs(2));
    assert_eq!(dead.len(), N / 10, "every refused row dead-lettered");
    for r in &dead {
        let h = |k: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(h(wasp::router::headers::KIND).as_deref(), Some("sink"));
        let reason = h(wasp::router::headers::REASON).unwrap_or_default();
        assert!(reason.contains("violates check constraint"), "{reason}");
    }

    // The same inputs again under another consumer group (a replay from the
    // start): nothing is inserted twice.
    let p = pipeline(&dir, "pgrun-replay", &topics, &rest);
    Wasp::start(&p, &["--max-records", &N.to_string()], "replay").wait_ok(Duration::from_secs(120));
    assert_eq!(count(&t), (N - N / 10) as i64, "the replay inserted rows twice");
}

#[test]
fn wasp_run_refuses_to_start_when_the_mapping_does_not_match_the_table() {
    let _pg = server();
    use crate::broker::*;
    let t = table("pg_run_bad", LOGINS);
    let dir = crate::common::temp_dir("pgrunbad");
    let rest = format!(
        "{}{}",
        tables_toml(&t).replace("attempts = \"attempts\"", "tries = \"attempts\""),
        stage("pass", "identity", "")
    );
    let p = pipeline(
        &dir,
        "pgrunbad",
        "input = [\"unused\"]\noutput = \"logins\"\ndead_letter = \"unused-dlq\"\n",
        &rest,
    );
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_wasp")).arg("run").arg(&p).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "wasp run started with a bad mapping:\n{stderr}");
    assert!(stderr.contains("no column 'tries'"), "{stderr}");
}

#[test]
fn wasp_run_killed_mid_stream_then_restarted_stores_every_event_exactly_once() {
    let _pg = server();
    use crate::broker::*;
    let [input, dlq] = ["pgk9-in", "pgk9-dlq"].map(unique);
    create(&[&input, &dlq], 3);
    let t = table("pg_k9", LOGINS);
    const N: usize = 20_000;
    let events = unique_logins(N);
    let p = logins_pipeline("pgk9", &input, &dlq, &t);
    let first = Wasp::start(&p, &[], "first");
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &events, Some(Duration::from_secs(12))));
    // Killed once rows are arriving, while events are still produced.
    wait_for_rows(&t, 1000, Duration::from_secs(60));
    first.kill9();
    let stored_at_kill = count(&t);
    producer.join().unwrap();
    Wasp::start(&p, &["--until-idle", "6"], "second").wait_ok(Duration::from_secs(300));
    note(&format!("kill -9 with {stored_at_kill} of {N} rows stored; restarted"));
    assert!(stored_at_kill < N as i64, "the kill came after the end: the test shows nothing");
    let distinct = distinct_usernames(&t);
    assert_eq!(count(&t), N as i64, "rows lost or doubled");
    assert_eq!(distinct, N as i64, "a username is missing");
    assert!(read(&dlq, Duration::from_secs(1)).is_empty(), "nothing was refused");
}

#[test]
fn wasp_run_waits_out_a_ten_second_database_outage_losing_and_doubling_nothing() {
    use crate::broker::*;
    let _pg = SERVER.write().unwrap_or_else(|p| p.into_inner());
    let [input, dlq] = ["pgout-in", "pgout-dlq"].map(unique);
    create(&[&input, &dlq], 3);
    let t = table("pg_outage_run", LOGINS);
    const N: usize = 6_000;
    let events = unique_logins(N);
    let p = logins_pipeline("pgout", &input, &dlq, &t);
    let port = crate::telemetry::free_port();
    let run = Wasp::start(&p, &["--metrics", &format!("127.0.0.1:{port}")], "run");
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &events, Some(Duration::from_secs(15))));
    wait_for_rows(&t, 500, Duration::from_secs(60));
    let up = scrape(port);
    assert_eq!(up.get(UNAVAILABLE), Some(&0.0), "{up:?}");
    postgres_script("stop");
    // The outage is in the metrics while it lasts.
    let start = Instant::now();
    let mut down = scrape(port);
    while down.get(UNAVAILABLE) != Some(&1.0) && start.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(200));
        down = scrape(port);
    }
    std::thread::sleep(Duration::from_secs(10).saturating_sub(start.elapsed()));
    postgres_script("start");
    assert_eq!(down.get(UNAVAILABLE), Some(&1.0), "the outage is not in the metrics: {down:?}");
    assert!(down[RETRIES] >= 1.0, "{down:?}");
    producer.join().unwrap();
    wait_for_rows(&t, N as i64, Duration::from_secs(120));
    let after = scrape(port);
    run.sigterm();
    let log = run.wait_ok(Duration::from_secs(60));
    assert!(log.contains("PostgreSQL unavailable"), "the outage was not reported:\n{log}");
    assert_eq!(after.get(UNAVAILABLE), Some(&0.0), "still shown down after: {after:?}");
    assert!(after[RETRIES] >= down[RETRIES], "{after:?}");
    assert_eq!(after.get(STORED), Some(&(N as f64)), "{after:?}");
    let distinct = distinct_usernames(&t);
    assert_eq!(count(&t), N as i64, "rows lost or doubled across the outage");
    assert_eq!(distinct, N as i64);
    assert!(read(&dlq, Duration::from_secs(1)).is_empty(), "nothing was refused");
}

#[test]
fn wasp_run_killed_during_a_database_outage_then_restarted_loses_and_doubles_nothing() {
    use crate::broker::*;
    let _pg = SERVER.write().unwrap_or_else(|p| p.into_inner());
    let [input, dlq] = ["pgcrash-in", "pgcrash-dlq"].map(unique);
    create(&[&input, &dlq], 2);
    let t = table("pg_crash_run", LOGINS);
    const N: usize = 3_000;
    let events = unique_logins(N);
    let p = logins_pipeline("pgcrash", &input, &dlq, &t);
    let first = Wasp::start(&p, &[], "first");
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &events, Some(Duration::from_secs(6))));
    wait_for_rows(&t, 200, Duration::from_secs(60));
    postgres_script("stop");
    assert!(
        first.wait_for_log("PostgreSQL unavailable", Duration::from_secs(30)),
        "the outage was not reported:\n{}",
        first.log()
    );
    first.kill9();
    postgres_script("start");
    let stored_first = count(&t);
    producer.join().unwrap();
    Wasp::start(&p, &["--until-idle", "6"], "second").wait_ok(Duration::from_secs(300));
    note(&format!("killed during an outage with {stored_first} of {N} rows stored; restarted"));
    assert!(stored_first < N as i64, "the outage came after the end: the test shows nothing");
    assert_eq!(count(&t), N as i64, "rows lost or doubled after a crash during an outage");
}

#[test]
fn wasp_run_stopped_during_a_database_outage_commits_nothing_it_did_not_store() {
    use crate::broker::*;
    let _pg = SERVER.write().unwrap_or_else(|p| p.into_inner());
    let [input, dlq] = ["pgstop-in", "pgstop-dlq"].map(unique);
    // One partition: a held batch keeps its worker's hand-over waiting the
    // run's settle timeout (60 s) for acknowledgements that never come.
    create(&[&input, &dlq], 1);
    let t = table("pg_stop_run", LOGINS);
    const N: usize = 3_000;
    let events = unique_logins(N);
    let p = logins_pipeline("pgstop", &input, &dlq, &t);
    let log = p.with_extension("first.log");
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_wasp"))
        .arg("run")
        .arg(&p)
        .env("WASP_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &events, Some(Duration::from_secs(6))));
    wait_for_rows(&t, 200, Duration::from_secs(60));
    postgres_script("stop");
    std::thread::sleep(Duration::from_secs(2));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // One signal must be enough, even while the database is away (the stop
    // waits out the settle timeout for the held batch).
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = first.try_wait().unwrap() {
            break Some(exit);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = first.kill();
            let _ = first.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    postgres_script("start");
    let first_log = std::fs::read_to_string(&log).unwrap();
    let exit = exit.unwrap_or_else(|| panic!("one SIGTERM did not stop wasp:\n{first_log}"));
    assert!(!exit.success(), "a run stopped during an outage must say so:\n{first_log}");
    assert!(first_log.contains("not committed"), "{first_log}");
    let stored_first = count(&t);
    producer.join().unwrap();
    Wasp::start(&p, &["--until-idle", "6"], "second").wait_ok(Duration::from_secs(300));
    note(&format!("stopped during an outage with {stored_first} of {N} rows stored; restarted"));
    assert!(stored_first < N as i64, "the outage came after the end: the test shows nothing");
    assert_eq!(count(&t), N as i64, "rows lost or doubled after a stop during an outage");
}

const UNAVAILABLE: &str = "wasp_sink_unavailable{sink=\"tables.logins\"}";
const RETRIES: &str = "wasp_sink_retries_total{sink=\"tables.logins\"}";
const STORED: &str = "wasp_sink_rows_total{sink=\"tables.logins\",result=\"stored\"}";

/// The run's metrics (`--metrics` on `port`), once it answers.
fn scrape(port: u16) -> std::collections::BTreeMap<String, f64> {
    let start = Instant::now();
    loop {
        if let Some((_, body)) = crate::telemetry::get(port, "/metrics") {
            return crate::telemetry::samples(&body);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no metrics on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `scripts/postgres CMD`, which must succeed.
fn postgres_script(cmd: &str) {
    let st = std::process::Command::new(crate::common::root().join("scripts/postgres"))
        .arg(cmd)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "scripts/postgres {cmd} failed");
}
