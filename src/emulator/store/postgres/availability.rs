//! Availability: which errors mean the database cannot be reached now, and hearing the other
//! replicas' writes.
//!
//! Errors that mean "the database cannot be reached now" (refused or broken connections, a
//! server shutting down, a pool wait that timed out) become [`StoreError::Unavailable`], which
//! the API answers with 503 `ServiceUnavailableException`; the pool drops broken connections
//! and opens new ones once the database is back, with nothing to restart.
//!
//! Every replica listens on [`CHANNEL`], where each write that changed something notifies
//! (`super::writer`), and turns what it hears into [`Foreign::Changed`] for its evaluation
//! views; a listener that lost its connection reports [`Foreign::Deaf`] until it listens
//! again.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use deadpool_postgres::PoolError;
use futures::StreamExt;
use tokio_postgres::{AsyncMessage, Config, error::SqlState};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::emulator::store::{Foreign, Listener, StoreError};

/// The notification channel of committed writes.
pub const CHANNEL: &str = "launch_operator_emulator_writes";

/// First delay before the listener reconnects; doubled up to [`LISTEN_RETRY_MAX`].
const LISTEN_RETRY: Duration = Duration::from_millis(100);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(2);

/// Who follows other replicas' writes, and whether the listener hears them now.
#[derive(Default)]
pub(super) struct Hub {
    pub(super) listening: bool,
    pub(super) listeners: Vec<Listener>,
}

impl Hub {
    fn tell(&mut self, event: Foreign) {
        match event {
            Foreign::Deaf => self.listening = false,
            Foreign::Listening => self.listening = true,
            Foreign::Changed => {}
        }
        for listener in &self.listeners {
            listener(event);
        }
    }
}

/// Listens on [`CHANNEL`] on a connection of its own, for as long as the store lives; when the
/// connection is lost the followers hear [`Foreign::Deaf`], and [`Foreign::Listening`] once it
/// listens again (the writes in between were missed).
pub(super) async fn listen_loop(config: Config, tls: MakeRustlsConnect, hub: Arc<Mutex<Hub>>) {
    let tell = |event| hub.lock().unwrap_or_else(|e| e.into_inner()).tell(event);
    let mut retry = LISTEN_RETRY;
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (heard, mut notifications) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if heard.send(()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the notification connection failed");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        retry = LISTEN_RETRY;
                        tell(Foreign::Listening);
                        while notifications.recv().await.is_some() {
                            tell(Foreign::Changed);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN for other replicas' writes")
                    }
                }
                driver.abort();
                tell(Foreign::Deaf);
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot connect to listen for other replicas' writes");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LISTEN_RETRY_MAX);
    }
}

/// Whether an error means the database cannot be reached now (a retry later may work).
fn unreachable(e: &tokio_postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        // No answer from the server: I/O, a closed connection, a timeout.
        return true;
    };
    let code = db.code();
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ]
        .contains(code)
}

pub(super) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    if unreachable(&e) {
        StoreError::Unavailable(error_text(&e))
    } else {
        StoreError::Postgres(error_text(&e))
    }
}

/// A tokio-postgres error with its causes. Its own text is only its kind ("db error", "error
/// connecting to server", "error performing TLS handshake"); what happened (the server's
/// message, the I/O error, the certificate refused) is its source.
pub(super) fn error_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(super) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_error(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}
