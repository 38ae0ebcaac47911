//! Logging through `env_logger`: `RUST_LOG` sets the levels (default `info`), `LOG_FORMAT=json`
//! writes every line as one JSON object with the record's key-values (request id, route, …)
//! as fields, for log shippers.

use log::kv::{Key, Value, VisitSource};
use serde::ser::{SerializeMap, Serializer as _};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    // actix's HTTP/1 dispatcher logs every unparsable request from a client at ERROR (it has
    // already answered it with 400); that is client noise, not a server error. RUST_LOG can
    // turn it back on.
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_http::h1::dispatcher=off"),
    );
    if format == LogFormat::Json {
        builder.format(write_line);
        // JSON lines carry no colours (serde_json escapes control characters), so there is
        // nothing to strip: without this env_logger scans every line for ANSI sequences when
        // stderr is not a terminal.
        builder.write_style(env_logger::WriteStyle::Always);
    }
    // A second init (tests, embedding) keeps the first logger.
    let _ = builder.try_init();
}

/// The fields every line has; a record's key-value with one of these names is written as
/// `kv.<name>` so that no line has a key twice.
const LINE_FIELDS: [&str; 4] = ["ts", "level", "target", "message"];

/// Writes the line straight into env_logger's buffer: one request log line per request, so
/// no intermediate map and no owned strings.
fn write_line(out: &mut impl std::io::Write, record: &log::Record<'_>) -> std::io::Result<()> {
    let mut json = serde_json::Serializer::new(&mut *out);
    let mut line = json.serialize_map(None)?;
    let now = chrono::Utc::now();
    line.serialize_entry(
        "ts",
        &format_args!("{}", now.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
    )?;
    line.serialize_entry("level", record.level().as_str())?;
    line.serialize_entry("target", record.target())?;
    line.serialize_entry("message", record.args())?;
    record
        .key_values()
        .visit(&mut Fields(&mut line))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    line.end()?;
    writeln!(out)
}

struct Fields<'a, M>(&'a mut M);

impl<'kvs, M: SerializeMap<Error = serde_json::Error>> VisitSource<'kvs> for Fields<'_, M> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let written = if LINE_FIELDS.contains(&key.as_str()) {
            self.0
                .serialize_entry(&format_args!("kv.{}", key.as_str()), &value)
        } else {
            self.0.serialize_entry(key.as_str(), &value)
        };
        written.map_err(log::kv::Error::boxed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::write_line;

    fn line(kvs: &[(&str, &str)]) -> Value {
        let mut out = Vec::new();
        write_line(
            &mut out,
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("http")
                .args(format_args!("pool {} exhausted", "db"))
                .key_values(&kvs)
                .build(),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_json_line_has_the_record_and_its_key_values_as_fields() {
        let entry = line(&[
            ("route", "/api/v1/companies/{id}"),
            ("note", "a \"quoted\"\nline"),
        ]);
        assert_eq!(entry["level"], "WARN");
        assert_eq!(entry["target"], "http");
        assert_eq!(entry["message"], "pool db exhausted");
        assert_eq!(entry["route"], "/api/v1/companies/{id}");
        assert_eq!(entry["note"], "a \"quoted\"\nline");
        let ts = entry["ts"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
            "{ts}"
        );
    }

    #[test]
    fn a_key_value_named_like_a_line_field_does_not_replace_it() {
        let entry = line(&[("message", "from the caller"), ("level", "x")]);
        assert_eq!(entry["message"], "pool db exhausted");
        assert_eq!(entry["level"], "WARN");
        assert_eq!(entry["kv.message"], "from the caller");
        assert_eq!(entry["kv.level"], "x");
    }
}
