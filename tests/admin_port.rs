//! The admin port of the real `credence run` (beside a real Kafka broker) under hostile clients:
//! a seeded request fuzzer (random methods, paths, headers, bodies, broken framing, raw bytes)
//! never makes it panic or stop answering; slow clients (slowloris) and idle connections are cut
//! off after the header timeout, so they cannot hold the port; oversized request heads get 431;
//! request bodies are never read.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use support::{broker_shared, Daemon, TestTopics};

/// The daemon's header timeout (`admin::HEADER_READ_TIMEOUT`) and the slack a loaded test machine
/// needs on top of it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(8);

/// Starts a daemon on fresh topics; returns it and its admin address. The broker is not taken
/// (the admin port needs no exclusive use of it).
fn daemon(name: &str) -> (Daemon, String) {
    let env = broker_shared();
    let t = TestTopics::create(&env, name, 1);
    let mut d = Daemon::start(&t.config(&env, ""), &[("CREDENCE_LOG__LEVEL", "info,credence=debug")]);
    let addr = d.admin_addr();
    (d, addr)
}

/// Sends `request` and reads what comes back until the server closes or `timeout` passes.
/// `half_close`: close the sending side once the request is out (then an incomplete request ends
/// at once instead of at the header timeout).
fn exchange(addr: &str, request: &[u8], timeout: Duration, half_close: bool) -> Vec<u8> {
    let Ok(mut s) = TcpStream::connect(addr) else { return Vec::new() };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let _ = s.write_all(request);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// The status of an HTTP answer.
fn status(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    let rest = text.strip_prefix("HTTP/1.1 ").or_else(|| text.strip_prefix("HTTP/1.0 "))?;
    rest.get(..3)?.parse().ok()
}

fn get(addr: &str, path: &str) -> Option<u16> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    status(&exchange(addr, req.as_bytes(), Duration::from_secs(5), false))
}

/// One random request: mostly HTTP-shaped, with random methods, paths, headers, bodies and
/// framing; sometimes raw bytes.
fn random_request(rng: &mut impl rand::Rng) -> Vec<u8> {
    const METHODS: [&str; 12] =
        ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "PRI", "get", "G\u{e9}T"];
    const PATHS: [&str; 10] =
        ["/metrics", "/healthz", "/readyz", "/", "*", "/metrics?x=1", "//..//etc/passwd", "/%00%ff", "http://h/m", ""];
    const VERSIONS: [&str; 6] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", ""];
    let bytes = |rng: &mut dyn rand::RngCore, n: usize| -> Vec<u8> { (0..n).map(|_| rng.gen::<u8>()).collect() };
    if rng.gen_ratio(1, 8) {
        let n = rng.gen_range(0..4096);
        return bytes(rng, n);
    }
    let mut r = Vec::new();
    let method = METHODS[rng.gen_range(0..METHODS.len())];
    let mut path = PATHS[rng.gen_range(0..PATHS.len())].as_bytes().to_vec();
    if rng.gen_ratio(1, 4) {
        let n = rng.gen_range(0..10_000);
        path.extend(std::iter::repeat_n(b'a', n));
    }
    if rng.gen_ratio(1, 6) {
        let n = rng.gen_range(1..64);
        path.extend(bytes(rng, n));
    }
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
    r.extend(path);
    r.push(b' ');
    r.extend_from_slice(VERSIONS[rng.gen_range(0..VERSIONS.len())].as_bytes());
    r.extend_from_slice(b"\r\n");
    let headers = if rng.gen_ratio(1, 10) { rng.gen_range(100..400) } else { rng.gen_range(0..8) };
    for i in 0..headers {
        match rng.gen_range(0..8) {
            0 => r.extend_from_slice(b"Host: 127.0.0.1\r\n"),
            1 => r.extend_from_slice(format!("Content-Length: {}\r\n", rng.gen::<u32>()).as_bytes()),
            2 => r.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            3 => r.extend_from_slice(b"Connection: keep-alive\r\n"),
            4 => r.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(rng.gen_range(0..20_000))).as_bytes()),
            5 => r.extend_from_slice(b"Expect: 100-continue\r\n"),
            6 => {
                let n = rng.gen_range(0..100);
                r.extend(bytes(rng, n));
                r.extend_from_slice(b"\r\n");
            }
            _ => r.extend_from_slice(b"Upgrade: h2c\r\n"),
        }
    }
    if !rng.gen_ratio(1, 10) {
        r.extend_from_slice(b"\r\n");
    }
    match rng.gen_range(0..4) {
        0 => {}
        1 => {
            let n = rng.gen_range(0..100_000);
            r.extend(bytes(rng, n));
        }
        2 => r.extend_from_slice(b"5\r\nhello\r\nffffffffffffffff\r\nxx\r\n0\r\n\r\n"),
        // A second, valid request pipelined behind the first.
        _ => r.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    }
    r
}

#[test]
fn the_admin_port_survives_a_request_fuzzer() {
    let (mut d, addr) = daemon("admin-fuzz");
    assert_eq!(get(&addr, "/healthz"), Some(200), "{}", d.logs());
    let mut rng = rand_pcg::Pcg64::seed_from_u64(21);
    let (mut answered, mut closed) = (0, 0);
    const REQUESTS: usize = 600;
    for n in 0..REQUESTS {
        let req = random_request(&mut rng);
        let answer = exchange(&addr, &req, HEADER_TIMEOUT + SLACK, true);
        match status(&answer) {
            Some(s) => {
                assert!((200..600).contains(&s), "request {n}: status {s}");
                answered += 1;
            }
            None => closed += 1,
        }
        if n % 50 == 0 {
            d.assert_running();
            assert_eq!(get(&addr, "/healthz"), Some(200), "after request {n}: {}", d.logs());
        }
    }
    eprintln!("{REQUESTS} random requests: {answered} answered, {closed} closed without an answer");
    assert!(answered > REQUESTS / 4, "most malformed requests still get an HTTP answer (400, 404, 405, 431)");
    assert_eq!(get(&addr, "/metrics"), Some(200));
    assert_eq!(get(&addr, "/readyz").map(|s| s == 200 || s == 503), Some(true));
    d.sigterm();
    assert!(d.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", d.logs());
    assert!(!d.logs().contains("panicked"), "a panic in the log:\n{}", d.logs());
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_oversized_heads_refused() {
    let (mut d, addr) = daemon("admin-slow");
    // More idle connections than the server keeps, plus slowloris clients sending a header byte a
    // second: all are closed by the server within the header timeout.
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..80).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    assert!(idle.len() >= 64, "connected {}", idle.len());
    let slow: Vec<_> = (0..4)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n");
                let t = Instant::now();
                // One byte a second of a header that never ends, until the server hangs up.
                for _ in 0..120 {
                    std::thread::sleep(Duration::from_secs(1));
                    if s.write_all(format!("X-{i}: a").as_bytes()).is_err() {
                        return t.elapsed();
                    }
                }
                t.elapsed()
            })
        })
        .collect();
    for s in &mut idle {
        let _ = s.set_read_timeout(Some(HEADER_TIMEOUT + SLACK));
        let mut buf = [0u8; 64];
        // 0 bytes (closed) or a reset: the server hung up; a timeout would be an error.
        if let Err(e) = s.read(&mut buf) {
            assert!(
                !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
                "an idle connection still open after {:?}",
                started.elapsed()
            );
        }
    }
    for t in slow {
        let held = t.join().expect("slow client");
        assert!(held < HEADER_TIMEOUT + SLACK, "a slowloris client held its connection {held:?}");
    }
    // The port is free again.
    assert_eq!(get(&addr, "/healthz"), Some(200), "{}", d.logs());

    // A request head over 8 KiB: 431, and the port still answers.
    let big = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(64 * 1024));
    let answer = exchange(&addr, big.as_bytes(), Duration::from_secs(5), false);
    assert_eq!(status(&answer), Some(431), "{}", String::from_utf8_lossy(&answer));

    // A large body is never read: the answer comes before most of it is sent.
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n").expect("write");
    let _ = s.write_all(&[b'x'; 64 * 1024]);
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("an answer before the body is sent");
    assert_eq!(status(&head), Some(405));

    d.assert_running();
    assert_eq!(get(&addr, "/metrics"), Some(200));
    d.sigterm();
    assert!(d.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", d.logs());
    assert!(!d.logs().contains("panicked"), "a panic in the log:\n{}", d.logs());
}
