//! Workload files: TOML merged key by key onto a preset, strictly. A key
//! the scenario does not have, or a value of another type than the preset's,
//! is an error naming the key; then the merged scenario is validated.

use toml::{Table, Value};

use super::{Scenario, bad};
use crate::WorkloadError;

/// Parses `text`: `preset` (default `reddit`) gives every value, the other
/// keys override them.
pub(super) fn parse(text: &str) -> Result<Scenario, WorkloadError> {
    let file: Table = text.parse().map_err(|e| syntax_error(text, e))?;
    let base = base_preset(&file)?;
    let mut merged = Value::try_from(&base).map_err(WorkloadError::Internal)?;
    let mut strings = Vec::new();
    merge(&mut merged, Value::Table(file), "", &mut strings)?;
    let scenario: Scenario = merged.try_into().map_err(|source: toml::de::Error| {
        // serde names the allowed variants but not the key: find it among
        // the strings the file set.
        let key = strings
            .iter()
            .find(|(_, s)| source.message().contains(&format!("`{s}`")))
            .map(|(k, _)| k.clone());
        WorkloadError::Field { key, source }
    })?;
    scenario.validate()?;
    Ok(scenario)
}

/// The preset the file starts from.
fn base_preset(file: &Table) -> Result<Scenario, WorkloadError> {
    let allowed = || format!("one of {}", Scenario::PRESETS.join(", "));
    match file.get("preset") {
        None => Ok(Scenario::reddit()),
        Some(Value::String(s)) => {
            Scenario::preset(s).map_err(|_| bad("preset", allowed(), format!("{s:?}")))
        }
        Some(v) => Err(bad("preset", allowed(), v)),
    }
}

/// A TOML syntax error, with the line and column where it was found.
fn syntax_error(text: &str, source: toml::de::Error) -> WorkloadError {
    let at = source.span().map_or(0, |s| s.start);
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    WorkloadError::Toml {
        line,
        column,
        source,
    }
}

/// What a TOML value is, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

/// Merges `over` into `base` at `path` (dotted keys), keeping `base`'s
/// types (an integer may stand for a float), and records the strings set
/// with their keys in `strings`.
fn merge(
    base: &mut Value,
    over: Value,
    path: &str,
    strings: &mut Vec<(String, String)>,
) -> Result<(), WorkloadError> {
    match (base, over) {
        (Value::Table(b), Value::Table(o)) => {
            for (k, v) in o {
                let key = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v, &key, strings)?,
                    None => {
                        let mut allowed: Vec<&str> = b.keys().map(|s| s.as_str()).collect();
                        allowed.sort_unstable();
                        return Err(WorkloadError::UnknownKey {
                            key,
                            allowed: allowed.join(", "),
                        });
                    }
                }
            }
            Ok(())
        }
        (b @ Value::Float(_), Value::Integer(i)) => {
            *b = Value::Float(i as f64);
            Ok(())
        }
        (b, o) if std::mem::discriminant(b) == std::mem::discriminant(&o) => {
            match &o {
                Value::String(s) => strings.push((path.to_string(), s.clone())),
                Value::Array(items) => {
                    for it in items {
                        if let Value::String(s) = it {
                            strings.push((path.to_string(), s.clone()));
                        }
                    }
                }
                _ => {}
            }
            *b = o;
            Ok(())
        }
        (b, o) => Err(bad(path, kind(b), format!("{} ({o})", kind(&o)))),
    }
}
