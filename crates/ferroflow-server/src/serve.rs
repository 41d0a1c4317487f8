//! Accepting and serving connections with bounds: a cap on open connections, and
//! timeouts for a request head that never completes, a body that stops arriving, and a
//! keep-alive connection left idle. `axum::serve` has none of these, so one client that
//! opens connections and sends nothing could hold every file descriptor.
//!
//! Each connection runs hyper's HTTP/1 server over a [`GuardedIo`], which knows whether
//! a request is being handled (from the service wrapper) and enforces the head and idle
//! deadlines in its `poll_read`, the only place hyper waits on a silent client. Body
//! stalls are cut by tower-http's per-frame body timeout. When the cap is reached, the
//! longest-idle keep-alive connection (idle a second or more) is closed to make room, as
//! nginx reuses idle connections, so waiting clients are not starved by idle ones.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Bounds on connections; every field has a flag in `ferroflow server`.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// The most connections open at once. At the cap, idle keep-alive connections are
    /// closed to make room; when none is idle, new connections wait in the listen queue.
    pub max_connections: usize,
    /// How long a client may take to send a request head, from its first byte.
    pub header_read_timeout: Duration,
    /// How long a request body may go without a byte arriving.
    pub body_read_timeout: Duration,
    /// How long a connection may sit idle between requests (and before its first).
    pub keep_alive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            keep_alive_timeout: Duration::from_secs(75),
        }
    }
}

/// How often a full server looks again for an idle connection to close.
const EVICTION_TICK: Duration = Duration::from_millis(100);
/// How long a connection must have been idle before a full server may close it.
const EVICTION_MIN_IDLE: Duration = Duration::from_secs(1);

/// What the accept loop and each connection's I/O share about that connection.
struct ConnectionState {
    /// Requests of this connection being handled (hyper serves one at a time on HTTP/1).
    in_flight: AtomicUsize,
    /// When the connection last read or wrote a byte or finished a handler, as
    /// milliseconds since the serve loop started.
    last_activity_ms: AtomicU64,
    /// When the first byte of the next request head arrived (ms since start, 0 = none).
    head_started_ms: AtomicU64,
    /// Asks the connection to close once it is idle.
    close: Notify,
}

impl ConnectionState {
    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.head_started_ms.load(Ordering::Acquire) == 0
    }
}

/// The clock connections share: milliseconds since the serve loop started, never 0.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64 + 1
    }

    fn instant(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms.saturating_sub(1))
    }
}

/// The open connections, so that an idle one can be closed when the cap is reached.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
}

impl Registry {
    fn insert(&self, state: Arc<ConnectionState>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.lock().expect("connection registry poisoned").insert(id, state);
        id
    }

    fn remove(&self, id: u64) {
        self.open.lock().expect("connection registry poisoned").remove(&id);
    }

    /// Asks the connection idle the longest, if for at least [`EVICTION_MIN_IDLE`], to
    /// close; false when there is none. Connections idle for less are a working client
    /// between two requests: closing those would only trade one waiting client for
    /// another (and race with a request already on its way).
    fn close_longest_idle(&self, now_ms: u64) -> bool {
        let open = self.open.lock().expect("connection registry poisoned");
        let idle_since_before = now_ms.saturating_sub(EVICTION_MIN_IDLE.as_millis() as u64);
        let victim = open
            .values()
            .filter(|state| state.is_idle() && state.last_activity_ms.load(Ordering::Relaxed) <= idle_since_before)
            .min_by_key(|state| state.last_activity_ms.load(Ordering::Relaxed));
        match victim {
            Some(state) => {
                state.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then lets
/// in-flight requests finish (at most `grace`) before returning.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let max_connections = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    let registry = Arc::new(Registry::default());
    let clock = Clock(Instant::now());
    let limits = Arc::new(limits);
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_read_timeout));
    let (stopping, stop_signal) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut accept_errors_logged = false;
    'accept: loop {
        // Wait for room; at the cap, close the longest-idle connection to make some (and
        // look again every tick, as busy connections become idle).
        let permit = loop {
            if let Ok(permit) = Arc::clone(&permits).try_acquire_owned() {
                break permit;
            }
            registry.close_longest_idle(clock.now_ms());
            tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => break permit.expect("semaphore is never closed"),
                _ = tokio::time::sleep(EVICTION_TICK) => {}
                _ = &mut shutdown => break 'accept,
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors (EMFILE) and friends: back off instead of spinning.
                    if !accept_errors_logged {
                        tracing::warn!(%error, "accepting a connection failed; retrying");
                        accept_errors_logged = true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break 'accept,
        };
        accept_errors_logged = false;
        let _ = stream.set_nodelay(true);
        let state = Arc::new(ConnectionState {
            in_flight: AtomicUsize::new(0),
            last_activity_ms: AtomicU64::new(clock.now_ms()),
            head_started_ms: AtomicU64::new(0),
            close: Notify::new(),
        });
        let id = registry.insert(Arc::clone(&state));
        let registry = Arc::clone(&registry);
        let connection =
            serve_connection(stream, peer, router.clone(), state, Arc::clone(&limits), clock, stop_signal.clone());
        tokio::spawn(async move {
            connection.await;
            registry.remove(id);
            drop(permit);
        });
    }
    // Stop: idle connections close now, busy ones after their request (within `grace`).
    let _ = stopping.send(true);
    drop(listener);
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(grace, permits.acquire_many(all)).await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    state: Arc<ConnectionState>,
    limits: Arc<ConnectionLimits>,
    clock: Clock,
    mut stopping: watch::Receiver<bool>,
) {
    let io = GuardedIo { inner: stream, state: Arc::clone(&state), limits: Arc::clone(&limits), clock, deadline: None };
    let service_state = Arc::clone(&state);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        // The peer's address, for per-address limits on failed logins.
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        let state = Arc::clone(&service_state);
        state.head_started_ms.store(0, Ordering::Release);
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        let handled = router.clone().oneshot(request);
        async move {
            let response = handled.await;
            state.last_activity_ms.store(clock.now_ms(), Ordering::Release);
            state.in_flight.fetch_sub(1, Ordering::AcqRel);
            // Have the connection polled again, so that its read, which last waited
            // while the request was in flight and so without a deadline, now arms one.
            std::future::poll_fn(|cx| {
                cx.waker().wake_by_ref();
                Poll::Ready(())
            })
            .await;
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Head and idle deadlines are `GuardedIo`'s; hyper's own header timer (which would
    // also count idle time) stays off.
    builder.header_read_timeout(None).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        _ = state.close.notified() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
        _ = async { stopping.wait_for(|stop| *stop).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = outcome {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// A connection's socket that ends the connection when the client is silent too long
/// while no request is being handled: [`ConnectionLimits::keep_alive_timeout`] before a
/// request begins, [`ConnectionLimits::header_read_timeout`] once its head has begun.
struct GuardedIo {
    inner: TcpStream,
    state: Arc<ConnectionState>,
    limits: Arc<ConnectionLimits>,
    clock: Clock,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl GuardedIo {
    /// When the silence now being waited out ends the connection; `None` while a request
    /// is handled (its body has its own timeout, its handler its own limits).
    fn silence_deadline(&self) -> Option<Instant> {
        if self.state.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head_started = self.state.head_started_ms.load(Ordering::Acquire);
        Some(if head_started != 0 {
            self.clock.instant(head_started) + self.limits.header_read_timeout
        } else {
            self.clock.instant(self.state.last_activity_ms.load(Ordering::Acquire)) + self.limits.keep_alive_timeout
        })
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let now = this.clock.now_ms();
                    this.state.last_activity_ms.store(now, Ordering::Release);
                    if this.state.in_flight.load(Ordering::Acquire) == 0 {
                        let _ =
                            this.state.head_started_ms.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = this.silence_deadline() else {
                    return Poll::Pending;
                };
                let sleep = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "client was silent too long")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.state.last_activity_ms.store(this.clock.now_ms(), Ordering::Release);
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.state.last_activity_ms.store(this.clock.now_ms(), Ordering::Release);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
