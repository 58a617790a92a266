//! What stands between a request and the store: the bearer token, the per-client rate
//! limit, and the pool that hands out retrievers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::api::ApiError;
use super::AppState;

/// Rejects a request without the right `Authorization: Bearer` header when a token is set.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &state.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant time, so that response timing does not reveal how much of a guess was right.
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return next.run(request).await;
    }
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// 429 with Retry-After for a client address past its requests per minute.
pub async fn rate_limit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match state.limiter.check(client.ip()) {
        Ok(()) => next.run(request).await,
        Err(wait_seconds) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this address; slow down",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_seconds));
            response
        }
    }
}

/// A token bucket per client address: `per_minute` requests a minute, bursts up to the same.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` to wait before the next request is allowed.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            // Forget the clients whose buckets have refilled: they would start full anyway.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

/// A fixed set of `T`s lent out one request at a time.
pub struct Pool<T> {
    size: usize,
    items: Mutex<Vec<T>>,
    available: Arc<Semaphore>,
}

impl<T> Pool<T> {
    pub fn new(items: Vec<T>) -> Self {
        Self {
            size: items.len(),
            available: Arc::new(Semaphore::new(items.len())),
            items: Mutex::new(items),
        }
    }

    pub fn len(&self) -> usize {
        self.size
    }

    /// Waits for a free item; it goes back to the pool when the lease is dropped.
    pub async fn take(self: &Arc<Self>) -> Lease<T> {
        let permit = self
            .available
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        let item = self
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .expect("a permit means an item is free");
        Lease {
            item: Some(item),
            pool: self.clone(),
            _permit: permit,
        }
    }

    /// Applies `f` to every item, waiting until all are back (after uploads: stores reopen).
    pub async fn for_each(self: &Arc<Self>, mut f: impl FnMut(&mut T)) {
        let _all = self
            .available
            .clone()
            .acquire_many_owned(u32::try_from(self.size).unwrap_or(u32::MAX))
            .await;
        for item in self
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter_mut()
        {
            f(item);
        }
    }
}

pub struct Lease<T> {
    item: Option<T>,
    pool: Arc<Pool<T>>,
    _permit: OwnedSemaphorePermit,
}

impl<T> Deref for Lease<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item.as_ref().expect("present until dropped")
    }
}

impl<T> DerefMut for Lease<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("present until dropped")
    }
}

impl<T> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            // Back before the permit (a field, dropped after this) lets the next one in.
            self.pool
                .items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_allows_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(3);
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(client), Ok(()));
        }
        let wait = limiter.check(client).unwrap_err();
        assert!((1..=20).contains(&wait), "wait {wait}");
        assert_eq!(
            limiter.check(other),
            Ok(()),
            "each address has its own bucket"
        );
        assert_eq!(
            RateLimiter::new(0).check(client),
            Ok(()),
            "0 means no limit"
        );
    }
}
