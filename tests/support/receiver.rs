//! A real HTTP server the tests start (hyper), standing in for a webhook receiver, Slack or
//! PagerDuty: it records every request (headers and body) and answers as told — failing the first
//! requests, answering slowly, or going away and coming back on the same port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// A request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names (lower case) and values.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer 500 to this many requests first.
    pub fail_first: usize,
    /// Answer this request (0-based, counting every request) only after this long.
    pub slow: Option<(usize, Duration)>,
}

#[derive(Debug, Default)]
struct State {
    received: Vec<Received>,
    seen: usize,
}

/// A running receiver. Stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    behaviour: Behaviour,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts a receiver on a free port of 127.0.0.1.
    pub fn start(behaviour: Behaviour) -> Receiver {
        Receiver::start_at("127.0.0.1:0".parse().expect("addr"), behaviour, Arc::default())
    }

    fn start_at(addr: SocketAddr, behaviour: Behaviour, state: Arc<Mutex<State>>) -> Receiver {
        let std_listener = std::net::TcpListener::bind(addr).expect("bind the receiver");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (s, b) = (state.clone(), behaviour.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(serve(std_listener, s, b, stopped));
        });
        Receiver { addr, state, behaviour, stop: Some(stop), thread: Some(thread) }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Every request answered 2xx so far (failed ones are not kept).
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// Requests seen, answered or not.
    pub fn seen(&self) -> usize {
        self.state.lock().expect("state").seen
    }

    /// Stops the server: the port refuses connections until [`Receiver::resume`].
    pub fn pause(&mut self) {
        self.shut();
    }

    /// Starts the server again on the same port, keeping what it received.
    pub fn resume(&mut self) {
        let again = Receiver::start_at(self.addr, Behaviour::default(), self.state.clone());
        *self = again;
    }

    fn shut(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shut();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    behaviour: Behaviour,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (state, behaviour) = (state.clone(), behaviour.clone());
                conns.spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (state, behaviour) = (state.clone(), behaviour.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(req, &state, &behaviour).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
    // The port closes with the listener; open connections are cut.
    conns.abort_all();
}

async fn answer(req: Request<Incoming>, state: &Mutex<State>, behaviour: &Behaviour) -> Response<Full<Bytes>> {
    let headers =
        req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let n = {
        let mut s = state.lock().expect("state");
        s.seen += 1;
        s.seen - 1
    };
    if let Some((i, d)) = behaviour.slow {
        if i == n {
            tokio::time::sleep(d).await;
        }
    }
    let status = if n < behaviour.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        state.lock().expect("state").received.push(Received { headers, body });
        StatusCode::ACCEPTED
    };
    let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
    *r.status_mut() = status;
    r
}
