//! [`EngineError`]: why an engine could not be built or could not hand out
//! a session. A module of its own, below everything else in the crate, so
//! that the configuration's checks and every engine can name it without
//! depending on the [`crate::engine`] traits.

use std::sync::Arc;

/// Why an engine could not be built or could not hand out a session.
///
/// `Clone` and `PartialEq` so that replies and tests can carry and compare
/// it: a source is held in an `Arc`, and equality compares kinds (the
/// message of a configuration error, the [`std::io::ErrorKind`] of a failed
/// spawn), never the sources themselves, which are not comparable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The configuration cannot be used: a value out of range, or a server
    /// that cannot be reached or set up at the configured address. The CLI
    /// reports it as bad input (exit 2), with [`EngineError::detail`].
    #[error("invalid engine configuration: {message}")]
    Config {
        /// What is wrong, on one line.
        message: String,
        /// The error behind it, when the refusal comes from elsewhere (the
        /// Redis client's error for an unreachable server).
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// The engine serves a limited number of sessions (the `serial` engine: one).
    #[error("the {engine} engine serves at most {max} session(s) at a time")]
    SessionLimit {
        /// Engine name.
        engine: &'static str,
        /// How many sessions it serves at once.
        max: usize,
    },
    /// An engine thread could not be spawned.
    #[error("could not start an engine thread")]
    Spawn(#[source] Arc<std::io::Error>),
    /// The engine is shut down.
    #[error("the engine is shut down")]
    Shutdown,
}

impl EngineError {
    /// A configuration error with no source (a value out of range).
    pub fn config(message: impl Into<String>) -> Self {
        EngineError::Config {
            message: message.into(),
            source: None,
        }
    }

    /// A configuration error caused by `source` (a server that cannot be used).
    pub fn config_caused_by(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        EngineError::Config {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// What went wrong on one line, for a user: the message (a
    /// configuration error's without the "invalid engine configuration"
    /// heading) and its direct cause, joined by ": ". Deeper causes are left
    /// out: a client error's text already repeats the I/O error under it.
    /// A cause that spans lines (a client's parse error quoting a reply) is
    /// put on one line.
    pub fn detail(&self) -> String {
        let head = match self {
            EngineError::Config { message, .. } => message.clone(),
            e => e.to_string(),
        };
        let text = match std::error::Error::source(self) {
            Some(cause) => format!("{head}: {cause}"),
            None => head,
        };
        if !text.contains(['\n', '\r']) {
            return text;
        }
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl PartialEq for EngineError {
    fn eq(&self, other: &Self) -> bool {
        use EngineError::*;
        match (self, other) {
            (Config { message: a, .. }, Config { message: b, .. }) => a == b,
            (
                SessionLimit { engine, max },
                SessionLimit {
                    engine: e2,
                    max: m2,
                },
            ) => engine == e2 && max == m2,
            (Spawn(a), Spawn(b)) => a.kind() == b.kind(),
            (Shutdown, Shutdown) => true,
            _ => false,
        }
    }
}

impl Eq for EngineError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_one_line_even_when_the_cause_spans_several() {
        let cause = std::io::Error::other("unexpected reply:\n  -ERR x\r\n  (line 2)\n");
        let e = EngineError::config_caused_by("cannot use redis://h:1", cause);
        assert_eq!(
            e.detail(),
            "cannot use redis://h:1: unexpected reply: -ERR x (line 2)"
        );
        assert_eq!(
            EngineError::config("partitions 0 outside 1..=65536").detail(),
            "partitions 0 outside 1..=65536"
        );
    }
}
