//! A local webhook receiver: records every delivery and answers with scripted statuses.
//! Shared by the HTTP tests here and, by path, by the binary's tests.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// A local receiver that records deliveries and answers with scripted statuses.
#[derive(Clone, Default)]
pub struct Receiver {
    deliveries: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Statuses to answer with, in turn; 200 once exhausted.
    script: Arc<Mutex<Vec<u16>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl Receiver {
    pub async fn start(script: Vec<u16>) -> (Receiver, String) {
        let receiver = Receiver { script: Arc::new(Mutex::new(script)), ..Default::default() };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    state.deliveries.lock().unwrap().push((headers, body));
                    state.notify.notify_waiters();
                    let mut script = state.script.lock().unwrap();
                    let status = if script.is_empty() { 200 } else { script.remove(0) };
                    (StatusCode::from_u16(status).unwrap(), "received")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (receiver, url)
    }

    pub fn payloads(&self) -> Vec<(HeaderMap, Value, String)> {
        self.deliveries
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| (h.clone(), serde_json::from_slice(b).unwrap(), String::from_utf8(b.to_vec()).unwrap()))
            .collect()
    }

    /// Waits until `count` deliveries match `predicate`.
    pub async fn wait_for(&self, count: usize, predicate: impl Fn(&Value) -> bool) -> Vec<(HeaderMap, Value, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.notify.notified();
            let found: Vec<_> = self.payloads().into_iter().filter(|(_, p, _)| predicate(p)).collect();
            if found.len() >= count {
                return found;
            }
            let events: Vec<String> =
                self.payloads().iter().map(|(_, p, _)| format!("{}.{}", p["entity"], p["action"])).collect();
            assert!(Instant::now() < deadline, "timed out waiting for deliveries; got {events:?}");
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }
}
