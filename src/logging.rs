//! Logging through `env_logger`: `RUST_LOG` sets the levels (default `info`), `LOG_FORMAT=json`
//! writes every line as one JSON object with the record's key-values (request id, route, …)
//! as fields, for log shippers.

use std::io::Write as _;

use env_logger::fmt::Formatter;
use log::kv::{Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    // actix's HTTP/1 dispatcher logs every unparsable request from a client at ERROR (it has
    // already answered it with 400); that is client noise, not a server error. RUST_LOG can
    // turn it back on.
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_http::h1::dispatcher=off"),
    );
    if format == LogFormat::Json {
        builder.format(write_json);
    }
    // A second init (tests, embedding) keeps the first logger.
    let _ = builder.try_init();
}

fn write_json(buf: &mut Formatter, record: &log::Record<'_>) -> std::io::Result<()> {
    let mut line = Map::new();
    line.insert(
        "ts".into(),
        Json::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    line.insert(
        "level".into(),
        Json::String(record.level().as_str().to_owned()),
    );
    line.insert("target".into(), Json::String(record.target().to_owned()));
    line.insert("message".into(), Json::String(record.args().to_string()));
    let mut fields = Fields(&mut line);
    let _ = record.key_values().visit(&mut fields);
    let json = serde_json::to_string(&line).unwrap_or_default();
    writeln!(buf, "{json}")
}

struct Fields<'a>(&'a mut Map<String, Json>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let json = serde_json::to_value(&value).unwrap_or_else(|_| Json::String(value.to_string()));
        self.0.insert(key.as_str().to_owned(), json);
        Ok(())
    }
}
