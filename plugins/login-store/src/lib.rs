//! Seed 003's user store as a pipeline stage: login events in, rows for the
//! `users` and `events` tables out, no password in clear anywhere.
//!
//! Events are JSON objects with `event_type`, `username`, and `timestamp`,
//! checked against the seed's rules by an earlier stage
//! (`plugins/python/login_validator`):
//!
//! * `new_user_created` (a registration) carries the chosen `password`: it
//!   becomes a `users` row `{username, password_hash}` holding a bcrypt
//!   hash (`$2b$`, random salt, `cost` from the config, 12 by default as in
//!   the seed), and an `events` row;
//! * `incorrect_password` (a failed login) becomes an `events` row; a
//!   password it carries is dropped.
//!
//! An `events` row is the event without its `password`. The rows go to the
//! destinations named `users` and `events` (configurable), which the
//! pipeline declares as `[tables.users]` and `[tables.events]`. Any other
//! event type, a registration without a password, or a password bcrypt
//! cannot hash (over 72 bytes) is rejected with a reason that never quotes
//! the password.

mod salt;

use serde::Deserialize;
use serde_json::{Map, Value};
use wasp_sdk::{to_topic, BatchInfo, Message, Plugin, PluginInfo, Verdict};

/// A registration: hashed into `users`, recorded in `events`.
pub const NEW_USER: &str = "new_user_created";
/// A failed login: recorded in `events`.
pub const INCORRECT_PASSWORD: &str = "incorrect_password";

/// The configured stage.
pub struct LoginStore {
    cost: u32,
    users: String,
    events: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_cost")]
    cost: u32,
    #[serde(default = "default_users")]
    users: String,
    #[serde(default = "default_events")]
    events: String,
}

fn default_cost() -> u32 {
    bcrypt::DEFAULT_COST
}
fn default_users() -> String {
    "users".into()
}
fn default_events() -> String {
    "events".into()
}

/// bcrypt's cost range (2^4 to 2^31 rounds).
const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

impl LoginStore {
    /// The stage for a JSON config (`cost`, `users`, `events`).
    pub fn new(config: &str) -> Result<Self, String> {
        let c: Config = wasp_sdk::parse_config(config)?;
        if !COSTS.contains(&c.cost) {
            return Err(format!(
                "'cost' must be from {} to {} (bcrypt's range), not {}",
                COSTS.start(),
                COSTS.end(),
                c.cost
            ));
        }
        Ok(LoginStore { cost: c.cost, users: c.users, events: c.events })
    }

    /// The verdict for one event value.
    pub fn store(&self, value: Option<&[u8]>) -> Verdict {
        match self.rows(value) {
            Ok(outputs) => Verdict::Emit(outputs),
            Err(reason) => Verdict::Reject(reason),
        }
    }

    fn rows(&self, value: Option<&[u8]>) -> Result<Vec<wasp_sdk::Output>, String> {
        let parsed: Option<Value> = value.and_then(|v| serde_json::from_slice(v).ok());
        let Some(Value::Object(mut event)) = parsed else {
            return Err("value is not a JSON object".into());
        };
        let password = event.remove("password");
        let username = event.get("username").cloned().unwrap_or(Value::Null);
        let kind = event.get("event_type").and_then(Value::as_str).unwrap_or_default();
        let mut outputs = Vec::with_capacity(2);
        match kind {
            NEW_USER => {
                let Some(Value::String(password)) = password else {
                    return Err(format!("a {NEW_USER} event needs a password (a string)"));
                };
                let hash =
                    bcrypt::non_truncating_hash(password, self.cost).map_err(|e| match e {
                        bcrypt::BcryptError::Truncation(_) => {
                            "the password is longer than 72 bytes, which bcrypt cannot hash".into()
                        }
                        other => format!("bcrypt failed: {other}"),
                    })?;
                let mut user = Map::new();
                user.insert("username".into(), username);
                user.insert("password_hash".into(), Value::String(hash));
                outputs.push(to_topic(&self.users, Value::Object(user).to_string().into_bytes()));
            }
            INCORRECT_PASSWORD => {}
            other => {
                return Err(format!(
                    "unknown event_type '{other}': expected {NEW_USER} or {INCORRECT_PASSWORD}"
                ))
            }
        }
        outputs.push(to_topic(&self.events, Value::Object(event).to_string().into_bytes()));
        Ok(outputs)
    }
}

impl Plugin for LoginStore {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "login-store".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: env!("CARGO_PKG_DESCRIPTION").into(),
        }
    }
    fn init(config: &str) -> Result<Self, String> {
        LoginStore::new(config)
    }
    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        self.store(record.value.as_deref())
    }
}

wasp_sdk::export_plugin!(LoginStore);

#[cfg(test)]
mod tests {
    use super::*;
    use wasp_sdk::{Destination, Output};

    fn rows(value: &str) -> Result<Vec<(String, Value)>, String> {
        match LoginStore::new(r#"{"cost": 4}"#).unwrap().store(Some(value.as_bytes())) {
            Verdict::Emit(outs) => Ok(outs
                .into_iter()
                .map(|o: Output| {
                    let Destination::Topic(t) = o.destination else { panic!("{o:?}") };
                    (t, serde_json::from_slice(&o.value.unwrap()).unwrap())
                })
                .collect()),
            Verdict::Reject(r) => Err(r),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_registration_becomes_a_user_with_a_bcrypt_hash_and_an_event() {
        let out = rows(
            r#"{"event_type":"new_user_created","username":"sneha","password":"Kafka#2024","timestamp":"2024-10-29T21:10:00Z"}"#,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        let (t, user) = &out[0];
        assert_eq!(t, "users");
        assert_eq!(user["username"], "sneha");
        let hash = user["password_hash"].as_str().unwrap();
        assert!(hash.starts_with("$2b$04$") && hash.len() == 60, "{hash}");
        assert!(bcrypt::verify("Kafka#2024", hash).unwrap());
        assert!(!bcrypt::verify("Kafka#2025", hash).unwrap());
        assert_eq!(
            out[1],
            (
                "events".into(),
                serde_json::json!({"event_type":"new_user_created","username":"sneha","timestamp":"2024-10-29T21:10:00Z"})
            )
        );
        assert!(!serde_json::to_string(&out).unwrap().contains("Kafka#2024"));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        let e = r#"{"event_type":"new_user_created","username":"sneha","password":"Kafka#2024"}"#;
        assert_ne!(rows(e).unwrap()[0].1["password_hash"], rows(e).unwrap()[0].1["password_hash"]);
    }

    #[test]
    fn a_failed_login_is_an_event_without_its_password() {
        let out =
            rows(r#"{"event_type":"incorrect_password","username":"sneha","password":"guess1!A"}"#)
                .unwrap();
        assert_eq!(
            out,
            [(
                "events".to_string(),
                serde_json::json!({"event_type":"incorrect_password","username":"sneha"})
            )]
        );
    }

    #[test]
    fn bad_events_are_rejected_without_quoting_the_password() {
        let long = "Aa1!".repeat(19);
        let cases = [
            ("[1]".to_string(), "value is not a JSON object"),
            (r#"{"event_type":"logout","username":"sneha"}"#.into(), "unknown event_type 'logout'"),
            (r#"{"username":"sneha"}"#.into(), "unknown event_type ''"),
            (r#"{"event_type":"new_user_created","username":"sneha"}"#.into(), "needs a password"),
            (
                format!(
                    r#"{{"event_type":"new_user_created","username":"sneha","password":"{long}"}}"#
                ),
                "the password is longer than 72 bytes",
            ),
        ];
        for (value, want) in cases {
            let why = rows(&value).expect_err(&value);
            assert!(why.contains(want), "{why}");
            assert!(!why.contains("Aa1!"), "{why}");
        }
    }

    #[test]
    fn config_is_checked() {
        assert!(LoginStore::new("").is_ok());
        assert_eq!(LoginStore::new("").unwrap().cost, 12);
        let e = LoginStore::new(r#"{"cost": 3}"#).err().unwrap();
        assert_eq!(e, "'cost' must be from 4 to 31 (bcrypt's range), not 3");
        assert!(LoginStore::new(r#"{"salt": 1}"#).err().unwrap().contains("unknown field `salt`"));
        let s = LoginStore::new(r#"{"users": "accounts", "events": "audit"}"#).unwrap();
        assert_eq!((s.users.as_str(), s.events.as_str()), ("accounts", "audit"));
    }
}
